"""hourly_usage writes (idempotent upserts) and reads (as arrays for segmentation)."""

import datetime as dt

import numpy as np
from psycopg import sql

from customer_svc import summary_store
from customer_svc.hourly import HourlyUsage
from meters.pgcopy import copy_out, copy_payload, read_copy_payload

UPSERT = """
INSERT INTO customers.hourly_usage AS u (meter_id, hour_start, kwh, max_kw, slots)
SELECT meter_id, hour_start, kwh, max_kw, slots FROM new_usage
ON CONFLICT (meter_id, hour_start) DO UPDATE SET
  -- Add only slots not yet counted: a reading re-sent in a later message is not added twice
  -- (first write wins, as for stored readings; a partial overlap keeps the stored cell).
  kwh = CASE WHEN u.slots & EXCLUDED.slots = 0 THEN u.kwh + EXCLUDED.kwh ELSE u.kwh END,
  max_kw = CASE WHEN u.slots & EXCLUDED.slots = 0 THEN greatest(u.max_kw, EXCLUDED.max_kw) ELSE u.max_kw END,
  slots = CASE WHEN u.slots & EXCLUDED.slots = 0 THEN u.slots | EXCLUDED.slots ELSE u.slots END
"""


async def upsert_usage(conn, usage: HourlyUsage) -> None:
    """Fold hourly cells into customers.hourly_usage within the caller's transaction."""
    await conn.execute("CREATE TEMP TABLE IF NOT EXISTS new_usage (meter_id int8, hour_start timestamptz,"
                       " kwh float8, max_kw float8, slots int4) ON COMMIT DELETE ROWS")
    payload = copy_payload(list(zip(USAGE_TYPES, (usage.meter_ids, usage.hour_start_unix_s, usage.kwh,
                                                  usage.max_kw, usage.slots))))
    async with conn.cursor().copy("COPY new_usage FROM STDIN (FORMAT BINARY)") as copy:
        await copy.write(payload)
    await conn.execute(UPSERT)


async def record_usage(conn, usage: HourlyUsage) -> None:
    """Fold cells into hourly usage and mark what they change, in the caller's transaction: the local
    months they may fall in go stale (their versions go up), and customers with cells in days the
    month's running summary already folded are re-summarised by the next fold (month_fold.py)."""
    await upsert_usage(conn, usage)
    months = summary_store.months_of_hours(usage.hour_start_unix_s)
    await summary_store.bump(conn, months)
    await summary_store.mark_usage_refold(conn, months)


async def load_usage(conn, start_unix_s: int, end_unix_s: int, meter_ids: np.ndarray | None = None) -> HourlyUsage:
    """Registered meters' hourly cells in [start, end) (only `meter_ids`' when given).

    Binary COPY parsed as one numpy array: a month of 1.2 M meters is ~0.9 billion cells, which
    row-by-row fetching (~0.5 M rows/s here) would take half an hour to read."""
    meters = "" if meter_ids is None else " AND u.meter_id = ANY({})"
    query = sql.SQL(
        """COPY (SELECT u.meter_id, u.hour_start, u.kwh, u.max_kw, u.slots
                 FROM customers.hourly_usage u JOIN customers.customer_meters m USING (meter_id)
                 WHERE u.hour_start >= {} AND u.hour_start < {}""" + meters + ") TO STDOUT (FORMAT BINARY)"
    ).format(*[sql.Literal(v) for v in (_utc(start_unix_s), _utc(end_unix_s))],
             *([] if meter_ids is None else [sql.Literal([int(m) for m in meter_ids])]))
    # Read on a connection of its own under the caller's snapshot (meters.pgcopy.copy_out): ~4x the rows/s.
    payload = await copy_out(conn, query.as_string(conn))
    ids, hours, kwh, max_kw, slots = read_copy_payload(payload, USAGE_TYPES)
    return HourlyUsage(ids, hours, kwh, max_kw, slots)


USAGE_TYPES = ["int8", "timestamptz", "float8", "float8", "int4"]


def _utc(unix_s: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix_s, dt.timezone.utc)


async def meter_owners(conn) -> tuple[np.ndarray, np.ndarray]:
    """(registered meter ids ascending, their customers' ids)."""
    cur = await conn.execute("SELECT meter_id, customer_id FROM customers.customer_meters ORDER BY meter_id")
    pairs = np.array(await cur.fetchall(), dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


async def latest_hour(conn) -> int | None:
    """The latest hour with usage of a registered customer's meter (other meters' readings flow by too).
    One backward probe of the (meter_id, hour_start) key per registered meter, not a scan of the
    table: a year at 1.2 M meters is ~10 billion rows."""
    cur = await conn.execute(
        """SELECT extract(epoch FROM max(last.hour_start))::bigint FROM customers.customer_meters m
           CROSS JOIN LATERAL (SELECT u.hour_start FROM customers.hourly_usage u WHERE u.meter_id = m.meter_id
                               ORDER BY u.hour_start DESC LIMIT 1) last""")
    row = await cur.fetchone()
    return row[0] if row else None
