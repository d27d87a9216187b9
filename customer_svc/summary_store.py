"""customers.usage_summaries: monthly per-customer summaries, stored and read as fixed-width records.

Versions: every change to what a month summarises bumps its row in customers.usage_months (in the
changing transaction); a summary is computed from a REPEATABLE READ snapshot holding the version it
saw, so usage committed later always leaves the stored summary stale rather than silently missed.
"""

import datetime as dt

import numpy as np

from customer_svc.usage_summary import LATE_EDGES, UsageSummary
from meters.pgcopy import HEADER, TRAILER

# Counts fit a month: <= 31 days per (day type, hour), <= 155 midday hours.
ROW = np.dtype([("kwh", "<f4", (2, 24)), ("hours", "u1", (2, 24)), ("hours_weathered", "u1", (2, 24)),
                ("kwh_weathered", "<f4", (2, 24)), ("kwh_x", "<f4", (2, 24)), ("x_sum", "<f4", (2, 24)),
                ("x_sq", "<f4", (2, 24)), ("dark_sq", "<f4"), ("max_kwh", "<f4"), ("max_kw", "<f4"),
                ("midday_low", "<u2"), ("midday_hours", "<u2"), ("late_hist", "u1", (len(LATE_EDGES),))])
# A COPY BINARY tuple of (month date, customer_id int8, stats bytea): fixed width, so numpy writes
# and parses the stream whole.
_WIRE = np.dtype([("n", ">i2"), ("month_len", ">i4"), ("month", ">i4"), ("id_len", ">i4"), ("customer_id", ">i8"),
                  ("stats_len", ">i4"), ("stats", ROW)])
_PG_EPOCH = dt.date(2000, 1, 1)
# Local month of a UTC hour: Australian clocks run 9.5 to 11 hours ahead, so mark both candidates.
_LOCAL_OFFSETS_S = (34_200, 39_600)


def to_records(u: UsageSummary) -> np.ndarray:
    rec = np.zeros(len(u), dtype=ROW)
    for name in ROW.names:
        rec[name] = getattr(u, name)
    return rec


def from_records(rec: np.ndarray) -> UsageSummary:
    return UsageSummary(**{name: rec[name].astype(np.float64 if rec[name].dtype.kind == "f" else np.int32)
                           for name in ROW.names})


def months_of_hours(hour_start_unix_s: np.ndarray) -> list[dt.date]:
    """The local calendar months (first days) the UTC hours fall in, in any Australian region."""
    t = np.unique(hour_start_unix_s // 3600 * 3600)
    local = np.concatenate([(t + off).astype("datetime64[s]") for off in _LOCAL_OFFSETS_S])
    return [m.astype(dt.date) for m in np.unique(local.astype("datetime64[M]")).astype("datetime64[D]")]


async def bump(conn, months: list[dt.date] | None = None) -> None:
    """Mark months changed (None: every month summarised so far), within the caller's transaction."""
    if months is None:
        # Row locks in month order, as the usage consumer takes them: no deadlock between the two.
        await conn.execute("""UPDATE customers.usage_months SET version = version + 1 WHERE month IN
                              (SELECT month FROM customers.usage_months ORDER BY month FOR UPDATE)""")
        return
    await conn.execute(
        """INSERT INTO customers.usage_months (month) SELECT unnest(%s::date[]) ORDER BY 1
           ON CONFLICT (month) DO UPDATE SET version = customers.usage_months.version + 1""", [sorted(months)])


async def versions(conn) -> dict[dt.date, tuple[int, int | None]]:
    """month -> (version, summarised_version)."""
    cur = await conn.execute("SELECT month, version, summarised_version FROM customers.usage_months")
    return {m: (v, s) for m, v, s in await cur.fetchall()}


async def store(conn, month: dt.date, version: int, customer_ids: np.ndarray, u: UsageSummary) -> None:
    """Replace the month's summaries by `u` (customer_ids in its row order), as of `version`."""
    wire = np.zeros(len(u), dtype=_WIRE)
    wire["n"], wire["month_len"], wire["id_len"], wire["stats_len"] = 3, 4, 8, ROW.itemsize
    wire["month"] = (month - _PG_EPOCH).days
    wire["customer_id"] = customer_ids
    wire["stats"] = to_records(u)
    async with conn.transaction():
        # Two runs summarising the same month take turns (else both would insert its rows).
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('customers.usage_summaries'), %s)",
                           [(month - _PG_EPOCH).days])
        await conn.execute("DELETE FROM customers.usage_summaries WHERE month = %s", [month])
        async with conn.cursor().copy("COPY customers.usage_summaries FROM STDIN (FORMAT BINARY)") as copy:
            await copy.write(HEADER + wire.tobytes() + TRAILER)
        await conn.execute("UPDATE customers.usage_months SET summarised_version = %s WHERE month = %s",
                           [version, month])


async def load(conn, month: dt.date, customer_ids: np.ndarray) -> UsageSummary:
    """The month's stored summaries for customer_ids (sorted), zeros for customers without one."""
    buf = bytearray()
    async with conn.cursor().copy(
            "COPY (SELECT * FROM customers.usage_summaries WHERE month = %s) TO STDOUT (FORMAT BINARY)",
            [month]) as copy:
        async for chunk in copy:
            buf += chunk
    body = bytes(buf[len(HEADER):len(buf) - len(TRAILER)])
    wire = np.frombuffer(body, dtype=_WIRE)
    rec = np.zeros(len(customer_ids), dtype=ROW)
    pos = np.searchsorted(customer_ids, wire["customer_id"].astype(np.int64))
    known = (pos < len(customer_ids)) & (customer_ids[np.minimum(pos, len(customer_ids) - 1)] == wire["customer_id"])
    rec[pos[known]] = wire["stats"][known]
    return from_records(rec)
