"""customers.usage_summaries: monthly per-customer summaries, stored in blocks of customers.

A block's `stats` is each UsageSummary field for all its customers, one field after another
(LAYOUT), so reading one back is a handful of zero-copy numpy views.

Versions: every change to what a month summarises bumps its row in customers.usage_months (in the
changing transaction); a summary is computed from a REPEATABLE READ snapshot holding the version it
saw, so usage committed later always leaves the stored summary stale rather than silently missed.
"""

import datetime as dt

import numpy as np

from customer_svc.config import JOB_STATEMENT_TIMEOUT_S
from customer_svc.usage_summary import LATE_EDGES, MIDDAY_EDGES, UsageSummary
from meters.db import allow_long_statements

BLOCK = 10_000  # customers per stored row (~8 MB)
# (field, stored dtype, shape per customer). Counts fit a month in a byte: <= 31 days per (day type,
# hour) or per bin of late-evening energy; midday bins hold <= 155 hours.
# The temperature slope's terms are stored in half precision: the weather's own sums (degree-hours)
# as they are, the energy terms as shares of `kwh` (RELATIVE: 0-1 and the mean degree-hours, where
# half precision holds kWh of any size). The slope moves by < 4e-4 (a year of 3,000 customers) for
# a third less to read per run.
LAYOUT = (("kwh", "<f4", (2, 24)), ("hours", "u1", (2, 24)), ("hours_weathered", "u1", (2, 24)),
          ("kwh_weathered", "<f2", (2, 24)), ("kwh_x", "<f2", (2, 24)), ("x_sum", "<f2", (2, 24)),
          ("x_sq", "<f2", (2, 24)), ("dark_sq", "<f4", ()), ("max_kwh", "<f4", ()), ("max_kw", "<f4", ()),
          ("weekday_max_kwh", "<f4", (24,)),
          ("midday_hist", "u1", (len(MIDDAY_EDGES),)), ("late_hist", "u1", (len(LATE_EDGES),)))
RELATIVE = ("kwh_weathered", "kwh_x")
BYTES_PER_CUSTOMER = sum(np.dtype(t).itemsize * int(np.prod(s)) for _, t, s in LAYOUT)
# Local month of a UTC hour: Australian clocks run 9.5 to 11 hours ahead, so mark both candidates.
LOCAL_OFFSETS_S = (34_200, 39_600)
_PG_EPOCH = dt.date(2000, 1, 1)


def to_bytes(u: UsageSummary) -> bytes:
    out = []
    for name, t, _ in LAYOUT:
        values = getattr(u, name)
        if name in RELATIVE:
            values = np.divide(values, u.kwh, out=np.zeros(values.shape), where=u.kwh > 0)
        out.append(np.ascontiguousarray(values, dtype=t).tobytes())
    return b"".join(out)


def from_bytes(buf: bytes, customers: int) -> UsageSummary:
    """Read-only views into buf in the stored dtypes (the RELATIVE fields: float32 copies in kWh)."""
    if len(buf) != customers * BYTES_PER_CUSTOMER:
        raise ValueError(f"{len(buf)} bytes is not {customers} summaries of {BYTES_PER_CUSTOMER} bytes")
    out, offset = {}, 0
    for name, t, shape in LAYOUT:
        count = customers * int(np.prod(shape))
        out[name] = np.frombuffer(buf, dtype=t, count=count, offset=offset).reshape((customers, *shape))
        offset += count * np.dtype(t).itemsize
    for name in RELATIVE:
        out[name] = out[name] * out["kwh"]
    return UsageSummary(**out)


def months_of_hours(hour_start_unix_s: np.ndarray) -> list[dt.date]:
    """The local calendar months (first days) the UTC hours fall in, in any Australian region."""
    t = np.unique(hour_start_unix_s // 3600 * 3600)
    local = np.concatenate([(t + off).astype("datetime64[s]") for off in LOCAL_OFFSETS_S])
    return [m.astype(dt.date) for m in np.unique(local.astype("datetime64[M]")).astype("datetime64[D]")]


async def months_with_usage(conn, meter_ids: list[int]) -> list[dt.date]:
    """The local months from the first to the last hour of usage of any of the meters (two probes
    of the (meter_id, hour_start) key per meter, not a scan of their rows)."""
    cur = await conn.execute(
        """SELECT extract(epoch FROM min(first.hour_start))::bigint, extract(epoch FROM max(last.hour_start))::bigint
           FROM unnest(%s::int8[]) m(meter_id)
           CROSS JOIN LATERAL (SELECT u.hour_start FROM customers.hourly_usage u WHERE u.meter_id = m.meter_id
                               ORDER BY u.hour_start LIMIT 1) first
           CROSS JOIN LATERAL (SELECT u.hour_start FROM customers.hourly_usage u WHERE u.meter_id = m.meter_id
                               ORDER BY u.hour_start DESC LIMIT 1) last""", [meter_ids])
    first, last = await cur.fetchone()
    if first is None:
        return []
    ends = months_of_hours(np.array([first, last]))
    months = [ends[0]]
    while months[-1] < ends[-1]:
        months.append(next_month(months[-1]))
    return months


def next_month(m: dt.date) -> dt.date:
    """The first day of the month after m's."""
    return m.replace(year=m.year + m.month // 12, month=m.month % 12 + 1)


async def bump(conn, months: list[dt.date]) -> None:
    """Mark months changed, within the caller's transaction (rows locked in month order, as every
    bumper takes them: no deadlock between the usage consumer, weather and the registry)."""
    await conn.execute(
        """INSERT INTO customers.usage_months (month) SELECT unnest(%s::date[]) ORDER BY 1
           ON CONFLICT (month) DO UPDATE SET version = customers.usage_months.version + 1""", [sorted(months)])


async def store(conn, month: dt.date, version: int, customer_ids: np.ndarray, u: UsageSummary) -> None:
    """Replace the month's summaries by `u` (customer_ids ascending, in its row order), as of `version`."""
    async with conn.transaction():
        await allow_long_statements(conn, JOB_STATEMENT_TIMEOUT_S)
        # Two runs summarising the same month take turns (else both would insert its rows).
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('customers.usage_summaries'), %s)",
                           [(month - _PG_EPOCH).days])
        await conn.execute("DELETE FROM customers.usage_summaries WHERE month = %s", [month])
        for block, start in enumerate(range(0, len(u), BLOCK)):
            part = UsageSummary(**{name: getattr(u, name)[start:start + BLOCK] for name, _, _ in LAYOUT})
            await conn.execute(
                "INSERT INTO customers.usage_summaries (month, block, customer_ids, stats) VALUES (%s, %s, %b, %b)",
                [month, block, np.ascontiguousarray(customer_ids[start:start + BLOCK], dtype="<i8").tobytes(),
                 to_bytes(part)])
        await conn.execute("UPDATE customers.usage_months SET summarised_version = %s WHERE month = %s",
                           [version, month])


async def load(conn, month: dt.date, customer_ids: np.ndarray) -> UsageSummary:
    """The month's stored summaries for customer_ids (ascending), zeros for customers without one."""
    cur = conn.cursor(binary=True)  # bytea as raw bytes, not hex text
    await cur.execute("SELECT customer_ids, stats FROM customers.usage_summaries WHERE month = %s ORDER BY block",
                      [month])
    rows = await cur.fetchall()
    stored_ids = [np.frombuffer(ids, dtype="<i8") for ids, _ in rows]
    blocks = [from_bytes(stats, len(ids)) for ids, (_, stats) in zip(stored_ids, rows)]
    everyone = np.concatenate(stored_ids) if rows else np.empty(0, dtype=np.int64)
    same = np.array_equal(everyone, customer_ids)
    if not same:  # customers registered since (or gone): place the stored rows by id
        pos = np.searchsorted(customer_ids, everyone)
        found = (pos < len(customer_ids)) & (customer_ids[np.minimum(pos, len(customer_ids) - 1)] == everyone)
    out = {}
    for name, t, shape in LAYOUT:
        stored = np.concatenate([getattr(b, name) for b in blocks]) if rows else np.zeros((0, *shape), dtype=t)
        if same:
            out[name] = stored
        else:
            # stored's dtype, not the layout's: RELATIVE fields come back in kWh, beyond half precision
            out[name] = np.zeros((len(customer_ids), *shape), dtype=stored.dtype)
            out[name][pos[found]] = stored[found]
    return UsageSummary(**out)
