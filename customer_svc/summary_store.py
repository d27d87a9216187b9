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
# The open month's running summary (customers.running_summaries, month_fold.py): rewritten once a day,
# so nothing in half precision, where the rounding of each rewrite would add up.
RUNNING_LAYOUT = tuple((name, "<f4" if t == "<f2" else t, shape) for name, t, shape in LAYOUT)
SUMMARIES, RUNNING = "customers.usage_summaries", "customers.running_summaries"
_LAYOUTS = {SUMMARIES: LAYOUT, RUNNING: RUNNING_LAYOUT}
# Local month of a UTC hour: Australian clocks run 9.5 to 11 hours ahead, so mark both candidates.
LOCAL_OFFSETS_S = (34_200, 39_600)
_PG_EPOCH = dt.date(2000, 1, 1)


def to_bytes(u: UsageSummary, layout=LAYOUT) -> bytes:
    out = []
    for name, t, _ in layout:
        values = getattr(u, name)
        if name in RELATIVE and layout is LAYOUT:
            values = np.divide(values, u.kwh, out=np.zeros(values.shape), where=u.kwh > 0)
        out.append(np.ascontiguousarray(values, dtype=t).tobytes())
    return b"".join(out)


def from_bytes(buf: bytes, customers: int, layout=LAYOUT) -> UsageSummary:
    """Read-only views into buf in the stored dtypes (the RELATIVE fields: float32 copies in kWh)."""
    size = sum(np.dtype(t).itemsize * int(np.prod(s)) for _, t, s in layout)
    if len(buf) != customers * size:
        raise ValueError(f"{len(buf)} bytes is not {customers} summaries of {size} bytes")
    out, offset = {}, 0
    for name, t, shape in layout:
        count = customers * int(np.prod(shape))
        out[name] = np.frombuffer(buf, dtype=t, count=count, offset=offset).reshape((customers, *shape))
        offset += count * np.dtype(t).itemsize
    for name in RELATIVE if layout is LAYOUT else ():
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


# A UTC hour may lie in a sealed local day of month m (month_fold.py) if it starts after the month
# began on the clock most ahead of UTC and before its last sealed day ended on the clock least ahead.
_IN_SEALED_DAYS = """m.month = ANY(%(months)s) AND m.sealed_days > 0
  AND {hour} >= (m.month::timestamp AT TIME ZONE 'UTC') - interval '39600 seconds'
  AND {hour} < (m.month::timestamp AT TIME ZONE 'UTC') + m.sealed_days * interval '1 day' - interval '34200 seconds'"""
_MARK_CUSTOMERS = """ON CONFLICT (month, customer_id)
  DO UPDATE SET version = greatest(customers.refold_customers.version, EXCLUDED.version)"""


async def mark_usage_refold(conn, months: list[dt.date]) -> None:
    """After bump(months), in the usage consumer's transaction: the customers of the cells in `new_usage`
    that fall in sealed days, to be re-summarised by the next fold (bump locked the months' rows first,
    so a fold sealing more days waits for this transaction)."""
    await conn.execute(
        f"""INSERT INTO customers.refold_customers (month, customer_id, version)
            SELECT DISTINCT m.month, o.customer_id, m.version FROM new_usage n
            JOIN customers.customer_meters o USING (meter_id)
            JOIN customers.usage_months m ON {_IN_SEALED_DAYS.format(hour="n.hour_start")} {_MARK_CUSTOMERS}""",
        {"months": months})


async def mark_weather_refold(conn, months: list[dt.date], regions: list[str], hours: list[int]) -> None:
    """After bump(months): the regions whose weather changed in sealed days."""
    await conn.execute(
        f"""INSERT INTO customers.refold_regions (month, region, version)
            SELECT DISTINCT m.month, w.region, m.version FROM unnest(%(regions)s::text[], %(hours)s::int8[]) w(region, hour)
            JOIN customers.usage_months m ON {_IN_SEALED_DAYS.format(hour="to_timestamp(w.hour)")}
            ON CONFLICT (month, region) DO UPDATE SET version = greatest(customers.refold_regions.version, EXCLUDED.version)""",
        {"months": months, "regions": regions, "hours": hours})


async def mark_customers_refold(conn, months: list[dt.date], customer_ids: list[int]) -> None:
    """After bump(months): customers whose meters or region changed, in every month of `months` with
    sealed days."""
    await conn.execute(
        f"""INSERT INTO customers.refold_customers (month, customer_id, version)
            SELECT m.month, c.id, m.version FROM unnest(%(ids)s::int8[]) c(id)
            JOIN customers.usage_months m ON m.month = ANY(%(months)s) AND m.sealed_days > 0 {_MARK_CUSTOMERS}""",
        {"months": months, "ids": sorted(set(customer_ids))})


async def store(conn, month: dt.date, version: int, customer_ids: np.ndarray, u: UsageSummary) -> None:
    """Replace the month's summaries by `u` (customer_ids ascending, in its row order), as of `version`."""
    async with conn.transaction():
        await allow_long_statements(conn, JOB_STATEMENT_TIMEOUT_S)
        # Two runs summarising the same month take turns (else both would insert its rows).
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('customers.usage_summaries'), %s)",
                           [(month - _PG_EPOCH).days])
        await write_blocks(conn, SUMMARIES, month, customer_ids, u)
        await conn.execute("UPDATE customers.usage_months SET summarised_version = %s WHERE month = %s",
                           [version, month])


async def write_blocks(conn, table: str, month: dt.date, customer_ids: np.ndarray, u: UsageSummary) -> None:
    """Replace the month's rows of `table` (SUMMARIES or RUNNING), in the caller's transaction."""
    await conn.execute(f"DELETE FROM {table} WHERE month = %s", [month])
    layout = _LAYOUTS[table]
    for block, start in enumerate(range(0, len(u), BLOCK)):
        part = UsageSummary(**{name: getattr(u, name)[start:start + BLOCK] for name, _, _ in layout})
        await conn.execute(
            f"INSERT INTO {table} (month, block, customer_ids, stats) VALUES (%s, %s, %b, %b)",
            [month, block, np.ascontiguousarray(customer_ids[start:start + BLOCK], dtype="<i8").tobytes(),
             to_bytes(part, layout)])


async def load(conn, month: dt.date, customer_ids: np.ndarray, table: str = SUMMARIES) -> UsageSummary:
    """The month's stored summaries for customer_ids (ascending), zeros for customers without one."""
    layout = _LAYOUTS[table]
    cur = conn.cursor(binary=True)  # bytea as raw bytes, not hex text
    await cur.execute(f"SELECT customer_ids, stats FROM {table} WHERE month = %s ORDER BY block", [month])
    rows = await cur.fetchall()
    stored_ids = [np.frombuffer(ids, dtype="<i8") for ids, _ in rows]
    blocks = [from_bytes(stats, len(ids), layout) for ids, (_, stats) in zip(stored_ids, rows)]
    everyone = np.concatenate(stored_ids) if rows else np.empty(0, dtype=np.int64)
    same = np.array_equal(everyone, customer_ids)
    if not same:  # customers registered since (or gone): place the stored rows by id
        pos = np.searchsorted(customer_ids, everyone)
        found = (pos < len(customer_ids)) & (customer_ids[np.minimum(pos, len(customer_ids) - 1)] == everyone)
    out = {}
    for name, t, shape in layout:
        stored = np.concatenate([getattr(b, name) for b in blocks]) if rows else np.zeros((0, *shape), dtype=t)
        if same:
            out[name] = stored
        else:
            # stored's dtype, not the layout's: RELATIVE fields come back in kWh, beyond half precision
            out[name] = np.zeros((len(customer_ids), *shape), dtype=stored.dtype)
            out[name][pos[found]] = stored[found]
    return UsageSummary(**out)
