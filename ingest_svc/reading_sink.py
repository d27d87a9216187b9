"""Writes decoded Kafka messages to PostgreSQL in one transaction per call.

Fast path: binary COPY straight into meters.meter_readings. If a row is
already stored (a replay after a crash, or a re-sent reading) the COPY fails
on the primary key; the same rows then go through a staging table with
INSERT ... ON CONFLICT DO NOTHING, and re-sent readings whose values differ
from the stored ones are kept in meters.rejected_readings, never dropped.
"""

import time
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import AsyncConnection

from ingest_svc.metrics import DUPLICATES_SKIPPED
from meters.metrics import DB_WRITE_SECONDS
from meters.pgcopy import copy_payload
from meters.readings import ReadingColumns

READING_COLUMNS = "meter_id, reading_time, consumption_kwh, demand_kw, voltage, current_amps, power_factor, quality_flag"
DAY_S = 86_400


@dataclass
class ReadingRows:
    """Accepted readings with their quality flags and Kafka position (for conflict records)."""

    cols: ReadingColumns
    flags: np.ndarray  # int16
    partitions: np.ndarray  # int32, Kafka partition of the message each row came in
    offsets: np.ndarray  # int64, Kafka offset of that message
    row_index: np.ndarray  # int32, position inside the message


@dataclass
class RejectedRow:
    meter_id: int
    reading_time_unix_s: int
    values: tuple[float, float, float, float, float]  # kwh, kw, v, a, pf
    reason: str
    detail: str
    received_at_unix_ms: int
    topic: str
    partition: int
    offset: int


def _payload(rows: ReadingRows) -> bytes:
    c = rows.cols
    return copy_payload([
        ("int8", c.meter_ids), ("timestamptz", c.reading_times_unix_s), ("float8", c.consumption_kwh),
        ("float8", c.demand_kw), ("float8", c.voltage_v), ("float8", c.current_a), ("float8", c.power_factor),
        ("int2", rows.flags),
    ])


class ReadingSink:
    def __init__(self):
        self._days_ready: set[int] = set()

    async def write(self, conn: AsyncConnection, rows: ReadingRows | None, rejected: list[RejectedRow]) -> int:
        """Store everything in one transaction; return the number of readings newly stored."""
        started = time.perf_counter()
        stored = 0
        if rows is not None and len(rows.cols):
            await self._ensure_partitions(conn, rows.cols.reading_times_unix_s)
            try:
                async with conn.transaction():
                    await _copy(conn, "meters.meter_readings", _payload(rows))
                    await _insert_rejected(conn, rejected)
                DB_WRITE_SECONDS.labels("meter_readings").observe(time.perf_counter() - started)
                return len(rows.cols)
            except psycopg.errors.UniqueViolation:
                pass
            async with conn.transaction():
                stored = await _insert_deduplicated(conn, rows)
                await _insert_rejected(conn, rejected)
        elif rejected:
            async with conn.transaction():
                await _insert_rejected(conn, rejected)
        DB_WRITE_SECONDS.labels("meter_readings").observe(time.perf_counter() - started)
        return stored

    async def _ensure_partitions(self, conn: AsyncConnection, times: np.ndarray) -> None:
        days = set(np.unique(times // DAY_S).tolist()) - self._days_ready
        if not days:
            return
        async with conn.transaction():
            await conn.execute(
                "SELECT meters.ensure_reading_partitions(to_timestamp(%s)::date, to_timestamp(%s)::date)",
                [min(days) * DAY_S, max(days) * DAY_S],
            )
        self._days_ready |= days


async def _copy(conn: AsyncConnection, table: str, payload: bytes, columns: str = READING_COLUMNS) -> None:
    async with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        await copy.write(payload)


async def _insert_deduplicated(conn: AsyncConnection, rows: ReadingRows) -> int:
    await conn.execute(
        "CREATE TEMP TABLE staged_readings (LIKE meters.meter_readings, kafka_partition int, kafka_offset bigint,"
        " row_index int) ON COMMIT DROP"
    )
    payload = copy_payload([
        ("int8", rows.cols.meter_ids), ("timestamptz", rows.cols.reading_times_unix_s),
        ("float8", rows.cols.consumption_kwh), ("float8", rows.cols.demand_kw), ("float8", rows.cols.voltage_v),
        ("float8", rows.cols.current_a), ("float8", rows.cols.power_factor), ("int2", rows.flags),
        ("int4", rows.partitions), ("int8", rows.offsets), ("int4", rows.row_index),
    ])
    await _copy(conn, "staged_readings", payload, READING_COLUMNS + ", kafka_partition, kafka_offset, row_index")
    cur = await conn.execute(
        f"""INSERT INTO meters.meter_readings ({READING_COLUMNS})
            SELECT DISTINCT ON (meter_id, reading_time) {READING_COLUMNS} FROM staged_readings
            ORDER BY meter_id, reading_time, kafka_partition, kafka_offset, row_index
            ON CONFLICT DO NOTHING"""
    )
    stored = cur.rowcount
    # Rows that lost to a stored reading with other values are kept, not dropped.
    cur = await conn.execute(
        """INSERT INTO meters.rejected_readings
             (meter_id, reading_time, consumption_kwh, demand_kw, voltage, current_amps, power_factor,
              reason, detail, received_at, source_topic, kafka_partition, kafka_offset, row_index)
           SELECT s.meter_id, s.reading_time, s.consumption_kwh, s.demand_kw, s.voltage, s.current_amps,
                  s.power_factor, 'REJECTION_REASON_DUPLICATE_READING',
                  'conflicts with the stored reading for this meter and time', now(),
                  'meter-readings', s.kafka_partition, s.kafka_offset, s.row_index
           FROM staged_readings s JOIN meters.meter_readings m USING (meter_id, reading_time)
           WHERE (s.consumption_kwh, s.demand_kw, s.voltage, s.current_amps, s.power_factor)
                 IS DISTINCT FROM (m.consumption_kwh, m.demand_kw, m.voltage, m.current_amps, m.power_factor)
           ON CONFLICT DO NOTHING"""
    )
    conflicting = cur.rowcount
    DUPLICATES_SKIPPED.labels("identical").inc(len(rows.cols) - stored - conflicting)
    DUPLICATES_SKIPPED.labels("conflicting").inc(conflicting)
    return stored


async def _insert_rejected(conn: AsyncConnection, rejected: list[RejectedRow]) -> None:
    if not rejected:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            """INSERT INTO meters.rejected_readings
                 (meter_id, reading_time, consumption_kwh, demand_kw, voltage, current_amps, power_factor,
                  reason, detail, received_at, source_topic, kafka_partition, kafka_offset, row_index)
               VALUES (%s, CASE WHEN %s BETWEEN 1 AND 253402300799 THEN to_timestamp(%s) END, %s, %s, %s, %s, %s, %s, %s,
                       to_timestamp(%s / 1000.0), %s, %s, %s, 0)
               ON CONFLICT DO NOTHING""",
            [
                (r.meter_id, r.reading_time_unix_s, r.reading_time_unix_s, *r.values, r.reason, r.detail,
                 r.received_at_unix_ms, r.topic, r.partition, r.offset)
                for r in rejected
            ],
        )
