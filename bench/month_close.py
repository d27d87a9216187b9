"""Closing a month: incrementally from its running summary vs again from every hourly cell:
`python -m bench.month_close [--customers N]`.

On a real throwaway PostgreSQL (bench/throwaway_postgres.py) holding `customers` customers (one
meter each, five NEM regions, regional weather):
- incremental (`month_close_incremental_seconds`): April 2026 has a running summary of its first 29
  local days (customer_svc/month_fold.py, as the fold job leaves it; its values are one synthetic
  chunk's summary repeated, what it costs to read and write does not depend on them) and hourly
  cells for its last local day (the 26 UTC hours that day spans on Australian clocks). Timed:
  segmentation_job.month_summary closing the month as a segmentation run does: seal, read the
  running summary, fold the last day from hourly usage, write the running summary back, store the
  month's record. Beside it, the last day's fold alone (`month_close_last_day_fold_seconds`) and
  a close once the fold job has folded the last day, the usual case (`month_close_after_last_fold_seconds`:
  the running summary read, the month's record stored).
- full recompute (`month_close_full_seconds`): the same month_summary on a month without a running
  summary, which summarises the whole month from hourly usage (30 days x 24 cells a customer), for
  FULL_CUSTOMERS customers, scaled linearly to `customers`: a month of cells for 1.2 M customers is
  ~0.9 billion rows (~95 GB), more than this machine's disk should be asked for.
Figure setup (registration, cells, the stored running summary) is not timed.
"""

import argparse
import asyncio
import datetime as dt
import time

import numpy as np
import psycopg

from bench.segmentation import BENCH, _chunk, _register
from bench.throwaway_postgres import migrated_postgres
from customer_svc import summary_store
from customer_svc.month_fold import DAY_S, MAX_OFFSET_S, MIN_OFFSET_S, Fleet, _writable, days_in, summarise_days, unix
from customer_svc.segmentation_job import month_summary
from customer_svc.server import MIGRATIONS
from customer_svc.store import CustomerStore
from customer_svc.usage_summary import concat_customers, customers_of, summarise
from meters.audit import record
from meters.db import open_pool
from meters.pgcopy import copy_payload

INCREMENTAL, FULL = dt.date(2026, 4, 1), dt.date(2026, 3, 1)
FULL_CUSTOMERS = 10_000
FULL_ID0 = 100_000_000  # the full recompute's customers, apart from the incremental ones
REGIONS = ("NSW", "QLD", "SA", "TAS", "VIC")
CELLS_CHUNK = 100_000  # meters written at a time
SUMMARY_TILE = 50_000  # customers of synthetic running summary, repeated
TARGET_S = 180.0  # issue 16: a month closed at 1.2 M customers in under 3 minutes


async def _cells(dsn: str, ids: np.ndarray, first_hour: int, hours: int, seed: int) -> int:
    """`hours` hourly cells from first_hour for each meter (= customer) id, written CELLS_CHUNK meters at a time."""
    rng, n = np.random.default_rng(seed), 0
    h = first_hour + 3600 * np.arange(hours, dtype=np.int64)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for a in range(0, len(ids), CELLS_CHUNK):
            m = np.repeat(ids[a:a + CELLS_CHUNK], hours)
            kwh = rng.lognormal(-0.7, 0.8, len(m))
            async with conn.cursor().copy("COPY customers.hourly_usage FROM STDIN (FORMAT BINARY)") as copy:
                await copy.write(copy_payload([("int8", m), ("timestamptz", np.tile(h, len(m) // hours)),
                                               ("float8", kwh), ("float8", 2 * kwh), ("int4", np.full(len(m), 4095))]))
            n += len(m)
            print(f"\rhourly cells: {n:,}", end="", flush=True)
        print()
        await conn.execute("VACUUM ANALYZE customers.hourly_usage")
        # Weather for every region over the hours written.
        weather = [(r, int(t), round(float(15.0 + 8 * np.sin(t / 3600 * np.pi / 12)), 1)) for r in REGIONS for t in h]
        async with conn.transaction(), conn.cursor() as cur:
            await cur.executemany("INSERT INTO customers.regional_weather (region, hour_start, temperature_c)"
                                  " VALUES (%s, to_timestamp(%s), %s) ON CONFLICT DO NOTHING", weather)
            await record(conn, resource="regionalWeather", action="record", actor=BENCH, method="bench.month_close",
                         after={"hours": len(weather)})
    return n


async def _setup(dsn: str, customers: int) -> None:
    ids = np.arange(1, customers + 1, dtype=np.int64)
    full_ids = np.arange(FULL_ID0, FULL_ID0 + FULL_CUSTOMERS, dtype=np.int64)
    await _register(dsn, np.concatenate([ids, full_ids]), hours=())
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute("UPDATE customers.customers SET region = (%s::text[])[id %% 5 + 1]", [list(REGIONS)])
        await record(conn, resource="customers", action="update", actor=BENCH, method="bench.month_close",
                     after={"regions": list(REGIONS)})
        await conn.commit()
    # The last local day of April: the UTC hours from its start on the clock most ahead of UTC to its
    # end on the clock least ahead.
    last_day = unix(INCREMENTAL) + (days_in(INCREMENTAL) - 1) * DAY_S
    first, end = last_day - MAX_OFFSET_S, last_day + DAY_S - MIN_OFFSET_S
    await _cells(dsn, ids, first // 3600 * 3600, -(-(end - first) // 3600), seed=1)
    # March for the full recompute's customers, likewise.
    first, end = unix(FULL) - MAX_OFFSET_S, unix(FULL) + days_in(FULL) * DAY_S - MIN_OFFSET_S
    await _cells(dsn, full_ids, first // 3600 * 3600, -(-(end - first) // 3600), seed=2)
    # April's running summary of its first 29 days, as the fold job stores it.
    tile = _writable(summarise(_chunk(SUMMARY_TILE, 3, days_in(INCREMENTAL) - 1)))
    running = customers_of(concat_customers([tile] * -(-customers // SUMMARY_TILE)), slice(0, customers))
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute("INSERT INTO customers.usage_months (month, sealed_days, folded_days) VALUES (%s, %s, %s)",
                           [INCREMENTAL, days_in(INCREMENTAL) - 1, days_in(INCREMENTAL) - 1])
        await summary_store.write_blocks(conn, summary_store.RUNNING, INCREMENTAL, ids, running)
        await conn.commit()


async def _close(dsn: str, month: dt.date, first_id: int, last_id: int, again: bool = False) -> dict[str, float]:
    """Seconds to close the month for the customers with ids in [first_id, last_id] (`close`); with
    `again`, also to fold its last day alone from hourly usage (`fold_day`) and to close it once more
    after its version moved with nothing new to fold (`close_folded`: the fold job had already folded
    the last day, the usual case: read the running summary, store the month's record)."""
    pool = await open_pool(dsn)
    try:
        rows = [r for r in await CustomerStore(pool).customers_with_meters() if first_id <= r[0] <= last_id]
        fleet = Fleet.of(rows)
        t0 = time.perf_counter()
        u, _version = await month_summary(pool, fleet, month, complete=True)
        out = {"close": time.perf_counter() - t0}
        assert len(u) == len(fleet.ids) and u.hours.sum() > 0
        del u
        if again:
            async with pool.connection() as conn:
                t0 = time.perf_counter()
                await summarise_days(conn, fleet, unix(month) + (days_in(month) - 1) * DAY_S, 1)
                out["fold_day"] = time.perf_counter() - t0
                await summary_store.bump(conn, [month])
                await conn.commit()
            t0 = time.perf_counter()
            await month_summary(pool, fleet, month, complete=True)
            out["close_folded"] = time.perf_counter() - t0
        return out
    finally:
        await pool.close()


def run(customers: int = 1_200_000) -> dict:
    with migrated_postgres("bench-month-close-", MIGRATIONS) as dsn:
        t0 = time.perf_counter()
        asyncio.run(_setup(dsn, customers))
        print(f"setup {time.perf_counter() - t0:.0f} s")
        incremental = asyncio.run(_close(dsn, INCREMENTAL, 1, customers, again=True))
        full_small = asyncio.run(_close(dsn, FULL, FULL_ID0, FULL_ID0 + FULL_CUSTOMERS))["close"]
    full = full_small * customers / FULL_CUSTOMERS
    return {"month_close_customers": customers,
            "month_close_incremental_seconds": round(incremental["close"], 1),
            "month_close_last_day_fold_seconds": round(incremental["fold_day"], 1),
            "month_close_after_last_fold_seconds": round(incremental["close_folded"], 1),
            "month_close_full_customers_measured": FULL_CUSTOMERS,
            "month_close_full_measured_seconds": round(full_small, 2),
            "month_close_full_seconds": round(full, 1),
            "month_close_speedup": round(full / incremental["close"], 1),
            "month_close_target_ratio": round(incremental["close"] / TARGET_S, 2)}

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_200_000)
    figures = run(parser.parse_args().customers)
    for key, value in figures.items():
        print(f"{key:40s} {value}")
    print(f"the full recompute measured at {FULL_CUSTOMERS:,} customers and scaled linearly to "
          f"{figures['month_close_customers']:,}")
