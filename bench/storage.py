"""Bytes on disk per stored reading and per hourly usage cell, as PostgreSQL stores them here.

A migrated throwaway PostgreSQL takes one day of 15-minute readings of METERS meters (heap, primary
key and TOAST of the day's partition, after VACUUM so the visibility map and free space map are
counted as they would be on a settled day) and their hourly usage cells. docs/scaling.md sizes the
fleet from these figures and the per-core CPU figures of bench.ingest.

Figures: storage_bytes_per_reading, storage_bytes_per_hourly_cell, and the day's bytes at 1.2 M,
5 M and 50 M meters (readings + hourly cells, before WAL, backups and replicas).
"""

import asyncio
import datetime as dt

import psycopg

from customer_svc.server import MIGRATIONS as CUSTOMER_MIGRATIONS
from bench.throwaway_postgres import migrated_postgres
from ingest_svc.server import MIGRATIONS as INGEST_MIGRATIONS
from meters.partitions import DailyPartitions

METERS = 20_000
DAY = "2026-11-02"
READINGS_PER_DAY = 96
FLEETS = {"1_2m": 1_200_000, "5m": 5_000_000, "50m": 50_000_000}


def _measure(dsn: str) -> tuple[float, float]:
    async def day_partition() -> None:  # as the writer makes it
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await DailyPartitions("meters.meter_readings").ensure(conn, [dt.date.fromisoformat(DAY)])

    asyncio.run(day_partition())
    with psycopg.connect(dsn, autocommit=True) as db:
        # Values as meters send them (3 decimals): varying, so no page compresses better than real ones.
        db.execute(
            """INSERT INTO meters.meter_readings (meter_id, reading_time, consumption_kwh, demand_kw, voltage,
                                                  current_amps, power_factor, quality_flag, frequency_hz)
               SELECT m, %s::timestamptz + s * interval '15 minutes', round((random() * 0.5)::numeric, 3),
                      round((random() * 2)::numeric, 3), round((228 + random() * 6)::numeric, 1),
                      round((random() * 9)::numeric, 3), round((0.9 + random() * 0.1)::numeric, 3), 1,
                      round((49.95 + random() * 0.1)::numeric, 3)
               FROM generate_series(1, %s) m, generate_series(0, %s) s""", [DAY, METERS, READINGS_PER_DAY - 1])
        db.execute(
            """INSERT INTO customers.hourly_usage (meter_id, hour_start, kwh, max_kw, slots)
               SELECT m, %s::timestamptz + h * interval '1 hour', random() * 2, random() * 4, 15
               FROM generate_series(1, %s) m, generate_series(0, 23) h""", [DAY, METERS])
        db.execute("VACUUM ANALYZE meters.meter_readings, customers.hourly_usage")
        part = "meters.meter_readings_" + DAY.replace("-", "")
        readings = db.execute("SELECT pg_total_relation_size(%s::regclass)", [part]).fetchone()[0]
        cells = db.execute("SELECT pg_total_relation_size('customers.hourly_usage')").fetchone()[0]
    return readings / (METERS * READINGS_PER_DAY), cells / (METERS * 24)


def run() -> dict[str, float]:
    with migrated_postgres("bench-storage-", INGEST_MIGRATIONS, CUSTOMER_MIGRATIONS) as dsn:
        per_reading, per_cell = _measure(dsn)
    figures = {"storage_bytes_per_reading": round(per_reading, 1), "storage_bytes_per_hourly_cell": round(per_cell, 1)}
    for name, meters in FLEETS.items():
        day = meters * (READINGS_PER_DAY * per_reading + 24 * per_cell)
        figures[f"storage_gb_per_day_{name}"] = round(day / 1e9, 2)
    for key, value in figures.items():
        print(f"   {key:36s} {value:,}")
    return figures


if __name__ == "__main__":
    run()
