"""Writes decoded Kafka messages to PostgreSQL in one transaction per call.

Fast path: binary COPY straight into meters.meter_readings. If a row is
already stored (a replay after a crash, or a re-sent reading) the COPY fails
on the primary key; the same rows then go through a staging table with
INSERT ... ON CONFLICT DO NOTHING, and re-sent readings whose values differ
from the stored ones are kept in meters.rejected_readings, never dropped.

Partitions are created only for the days rows fall on, and only inside the retention window: a
reading whose time is outside it (ingest refuses those too; this is the second line) is kept in
meters.rejected_readings with its reason instead of getting a partition of its own.
"""

import time
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import AsyncConnection

from ingest_svc.metrics import DUPLICATES_SKIPPED, READINGS_REFUSED
from ingest_svc.validation import Limits, describe, judge, time_checks
from meters.ingest.v1.reading_pb2 import RejectionReason
from meters.kafka import READINGS_TOPIC
from meters.metrics import DB_WRITE_SECONDS
from meters.partitions import DailyPartitions, day_of
from meters.pgcopy import copy_payload
from meters.readings import ReadingColumns

READING_COLUMNS = "meter_id, reading_time, consumption_kwh, demand_kw, voltage, current_amps, power_factor, quality_flag"


@dataclass
class ReadingRows:
    """Accepted readings with their quality flags and Kafka position (for conflict records)."""

    cols: ReadingColumns
    flags: np.ndarray  # int16
    partitions: np.ndarray  # int32, Kafka partition of the message each row came in
    offsets: np.ndarray  # int64, Kafka offset of that message
    row_index: np.ndarray  # int32, position inside the message
    received_ms: np.ndarray  # int64, the Kafka record's timestamp: when ingest sent the message

    def take(self, index: np.ndarray) -> "ReadingRows":
        return ReadingRows(self.cols.take(index), self.flags[index], self.partitions[index], self.offsets[index],
                           self.row_index[index], self.received_ms[index])


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
    row_index: int = 0


def _payload(rows: ReadingRows) -> bytes:
    c = rows.cols
    return copy_payload([
        ("int8", c.meter_ids), ("timestamptz", c.reading_times_unix_s), ("float8", c.consumption_kwh),
        ("float8", c.demand_kw), ("float8", c.voltage_v), ("float8", c.current_a), ("float8", c.power_factor),
        ("int2", rows.flags),
    ])


class ReadingSink:
    def __init__(self, limits: Limits = Limits(), clock=time.time):
        self._limits = limits
        self._clock = clock  # tests move it to write "in the past" or "in the future"
        self._readings = DailyPartitions("meters.meter_readings")
        self._rejected = DailyPartitions("meters.rejected_readings")

    async def write(self, conn: AsyncConnection, rows: ReadingRows | None, rejected: list[RejectedRow]) -> int:
        """Store everything in one transaction; return the number of readings newly stored."""
        started = time.perf_counter()
        stored = 0
        if rows is not None and len(rows.cols):
            rows, refused = self._refuse_outside_window(rows)
            rejected = rejected + refused
        await self._rejected.ensure(conn, {day_of(r.received_at_unix_ms // 1000) for r in rejected})
        if rows is not None and len(rows.cols):
            await self._readings.ensure(conn, map(day_of, np.unique(rows.cols.reading_times_unix_s)))
            # Conflicting re-sends are kept in rejected_readings under their message's time.
            await self._rejected.ensure(conn, map(day_of, np.unique(rows.received_ms // 1000)))
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

    def _refuse_outside_window(self, rows: ReadingRows) -> tuple[ReadingRows, list[RejectedRow]]:
        """Rows the window keeps, and the others as rejected rows with their reason."""
        times = rows.cols.reading_times_unix_s
        reasons = judge(time_checks(times, int(self._clock()), self._limits), len(times))
        out = np.flatnonzero(reasons)
        if not len(out):
            return rows, []
        c = rows.cols
        refused = [RejectedRow(
            int(c.meter_ids[i]), int(times[i]),
            (float(c.consumption_kwh[i]), float(c.demand_kw[i]), float(c.voltage_v[i]), float(c.current_a[i]),
             float(c.power_factor[i])),
            RejectionReason.Name(int(reasons[i])), "refused by the writer: " + describe(int(reasons[i]), c, i, self._limits),
            int(rows.received_ms[i]), READINGS_TOPIC, int(rows.partitions[i]), int(rows.offsets[i]), int(rows.row_index[i]),
        ) for i in out]
        for name in {r.reason for r in refused}:
            READINGS_REFUSED.labels(name).inc(sum(r.reason == name for r in refused))
        return rows.take(reasons == 0), refused


async def _copy(conn: AsyncConnection, table: str, payload: bytes, columns: str = READING_COLUMNS) -> None:
    async with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        await copy.write(payload)


async def _insert_deduplicated(conn: AsyncConnection, rows: ReadingRows) -> int:
    await conn.execute(
        "CREATE TEMP TABLE staged_readings (LIKE meters.meter_readings, kafka_partition int, kafka_offset bigint,"
        " row_index int, received_at timestamptz) ON COMMIT DROP"
    )
    payload = copy_payload([
        ("int8", rows.cols.meter_ids), ("timestamptz", rows.cols.reading_times_unix_s),
        ("float8", rows.cols.consumption_kwh), ("float8", rows.cols.demand_kw), ("float8", rows.cols.voltage_v),
        ("float8", rows.cols.current_a), ("float8", rows.cols.power_factor), ("int2", rows.flags),
        ("int4", rows.partitions), ("int8", rows.offsets), ("int4", rows.row_index),
        ("timestamptz", rows.received_ms // 1000),
    ])
    await _copy(conn, "staged_readings", payload,
                READING_COLUMNS + ", kafka_partition, kafka_offset, row_index, received_at")
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
                  'conflicts with the stored reading for this meter and time', s.received_at,
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
                       to_timestamp(%s / 1000.0), %s, %s, %s, %s)
               ON CONFLICT DO NOTHING""",
            [
                (r.meter_id, r.reading_time_unix_s, r.reading_time_unix_s, *r.values, r.reason, r.detail,
                 r.received_at_unix_ms, r.topic, r.partition, r.offset, r.row_index)
                for r in rejected
            ],
        )
