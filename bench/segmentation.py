"""Segmentation throughput at utility scale: `python -m bench.segmentation [--customers N]`.

Measured, for 1.2 M customers:
- 28 days from daily profiles (customers x days x 24 local hours, float32): summary, features and
  nearest-centroid assignment, in chunks: what a run costs on data not yet summarised.
- The plan's 90 days (`_90d`) and the service's default year (`_365d`) as RunSegmentation runs them:
  3 or 12 stored monthly summaries per customer read from PostgreSQL, merged, features, assignment.
  Merge, features and assignment are timed at 1.2 M; reading summaries back from a real PostgreSQL
  is timed for LOAD_CUSTOMERS customers' month and scaled linearly to 1.2 M and the months.
- Summarising a month (`segmentation_month_summary_seconds`): once per month and customer (again
  only when late data changes the month), not per run.
The profiles are synthetic: the fleet generator's segment archetypes (meters.fleet.segments via
customer_svc.archetypes) with lognormal hour/day noise, because generating 1.2 M customers' readings
would take ~40 min per 28 days on 2 cores; profile generation time is excluded from the figures.
Target: all 1.2 M in < 60 s, i.e. >= 20,000 customers/s.
"""

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg

from customer_svc import summary_store
from customer_svc.archetypes import archetype_profiles
from customer_svc.features import build_features, features
from customer_svc.model import SegmentationModel
from customer_svc.profiles import DailyProfiles
from customer_svc.server import MIGRATIONS
from customer_svc.usage_summary import merge, summarise
from meters.db import migrate
from meters.localstack.postgres import LocalPostgres
from meters.localstack.common import free_port

CUSTOMER_DAYS_PER_CHUNK = 50_000 * 28  # ~135 MB of float32 profiles per chunk
MONTH_DAYS = 30
# Stored months a run merges: the plan's 90 days and the service's default year.
WINDOW_MONTHS = {"_90d": 3, "_365d": 12}
LOAD_CUSTOMERS = 200_000
LOAD_REPEATS = 5  # the median: one read on a shared box is noisy


def _chunk(n: int, seed: int, days: int) -> DailyProfiles:
    base = archetype_profiles(samples=max(1, n // 12 + 1), seed=seed)
    idx = np.random.default_rng(seed).permutation(len(base))[:n]
    reps = -(-days // base.kwh.shape[1])
    kwh = np.tile(base.kwh[idx], (1, reps, 1))[:, :days]
    temp = np.tile(base.temp_c, (1, reps, 1))[:, :days]
    return DailyProfiles(kwh, base.max_kw[idx], np.tile(base.weekend, reps)[:days], base.region[idx], temp_c=temp)


def _chunks(customers: int, days: int):
    chunk = max(1_000, CUSTOMER_DAYS_PER_CHUNK // days)
    for i, start in enumerate(range(0, customers, chunk)):
        yield _chunk(min(chunk, customers - start), i, days)


def _from_profiles(model: SegmentationModel, customers: int, days: int) -> tuple[int, float]:
    busy, done = 0.0, 0
    for profiles in _chunks(customers, days):
        t0 = time.perf_counter()
        seg, _conf = model.predict(build_features(profiles))
        busy += time.perf_counter() - t0
        done += len(seg)
        print(f"\r{days} days: segmented {done:,}/{customers:,}", end="", flush=True)
    print()
    return done, busy


def _from_monthly_summaries(model: SegmentationModel, customers: int) -> tuple[float, dict[int, float]]:
    """Seconds to summarise one month, and per window (months) to merge its stored months + features +
    assign, for `customers`."""
    summarising, run, done = 0.0, dict.fromkeys(WINDOW_MONTHS.values(), 0.0), 0
    for profiles in _chunks(customers, MONTH_DAYS):
        t0 = time.perf_counter()
        month = summary_store.to_bytes(summarise(profiles))
        summarising += time.perf_counter() - t0
        for months in run:
            t0 = time.perf_counter()
            # The months as a run reads them (stored bytes -> views); the values repeat, the cost does not.
            parts = (summary_store.from_bytes(month, len(profiles)) for _ in range(months))
            model.predict(features(merge(parts)))
            run[months] += time.perf_counter() - t0
        done += len(profiles)
        print(f"\rmonthly summaries: {done:,}/{customers:,} customers", end="", flush=True)
    print()
    return summarising, run


def _load_seconds(customers: int) -> float:
    """Seconds to read one month's stored summaries of `customers` from a real PostgreSQL (median)."""
    u = summarise(_chunk(customers, 0, MONTH_DAYS))
    ids = np.arange(1, customers + 1, dtype=np.int64)
    month = dt.date(2026, 1, 1)
    with tempfile.TemporaryDirectory(prefix="bench-segmentation-") as tmp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        pg = LocalPostgres(Path(tmp) / "pg", free_port()).start()
        try:
            migrate(pg.dsn, MIGRATIONS)

            async def store_and_load() -> float:
                async with await psycopg.AsyncConnection.connect(pg.dsn) as conn:
                    await conn.execute("INSERT INTO customers.usage_months (month) VALUES (%s)", [month])
                    await summary_store.store(conn, month, 1, ids, u)
                    await conn.commit()
                    await summary_store.load(conn, month, ids)  # warm: the month as a run right after summarising
                    times = []
                    for _ in range(LOAD_REPEATS):
                        t0 = time.perf_counter()
                        await summary_store.load(conn, month, ids)
                        times.append(time.perf_counter() - t0)
                    return float(np.median(times))
            return asyncio.run(store_and_load())
        finally:
            pg.stop()


def run(customers: int = 1_200_000) -> dict:
    model = SegmentationModel.fit(build_features(_chunk(6_000, 99, 28)))
    done, busy = _from_profiles(model, customers, 28)
    figures = {"segmentation_customers": done, "segmentation_seconds": round(busy, 2),
               "segmentation_customers_per_s": round(done / busy, 1)}
    summarising, compute = _from_monthly_summaries(model, customers)
    load_n = min(LOAD_CUSTOMERS, customers)
    load_month = _load_seconds(load_n) * customers / load_n
    figures["segmentation_month_summary_seconds"] = round(summarising, 2)
    for suffix, months in WINDOW_MONTHS.items():
        total = load_month * months + compute[months]
        figures.update({f"segmentation_summary_load_seconds{suffix}": round(load_month * months, 2),
                        f"segmentation_compute_seconds{suffix}": round(compute[months], 2),
                        f"segmentation_customers{suffix}": customers,
                        f"segmentation_seconds{suffix}": round(total, 2),
                        f"segmentation_customers_per_s{suffix}": round(customers / total, 1)})
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_200_000)
    print(run(parser.parse_args().customers))
