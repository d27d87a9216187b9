"""Writes decoded Kafka messages to PostgreSQL in one transaction per call.

Fast path: binary COPY straight into meters.meter_readings. If a row is
already stored (a replay after a crash, a re-sent reading, a re-imported
file, a new version of an interval) the COPY fails on the primary key; the
same rows then go through a staging table. There a later version (MDFF
UpdateDateTime) replaces the stored reading, and so does an actual arriving
for a substitute; everything else is INSERT ... ON CONFLICT DO NOTHING, and
re-sent readings whose values differ from the stored ones are kept in
meters.rejected_readings (DUPLICATE_READING, or SUPERSEDED when older than the
stored version), never dropped. Every replacement, and every substitute VEE
adds, is recorded in meters.reading_edits in the same transaction.

Partitions are created only for the days rows fall on, and only inside the retention window: a
reading whose time is outside it (ingest refuses those too; this is the second line) is kept in
meters.rejected_readings with its reason instead of getting a partition of its own.
"""

import time
from dataclasses import dataclass, field

import numpy as np
import psycopg
from psycopg import AsyncConnection

from ingest_svc.metrics import DUPLICATES_SKIPPED, READINGS_REFUSED, READINGS_REPLACED
from ingest_svc.validation import Limits, describe, judge, time_checks
from meters.ingest.v1.reading_pb2 import RejectionReason
from meters.kafka import READINGS_TOPIC
from meters.metrics import DB_WRITE_SECONDS
from meters.partitions import DAY_S, DailyPartitions, day_of
from meters.pgcopy import copy_payload
from meters.nem12.quality import quality_field
from meters.readings import ReadingColumns, ReadingQuality

READING_COLUMNS = ("meter_id, reading_time, consumption_kwh, demand_kw, voltage, current_amps, power_factor, quality_flag,"
                   " quality, method_flag, reason_code, version, frequency_hz")
VEE_ORIGIN = "vee/"  # substitutes made by the VEE job: their inserts are edits too


@dataclass
class ReadingRows:
    """Accepted readings with their quality flags and Kafka position (for conflict records)."""

    cols: ReadingColumns
    flags: np.ndarray  # int16
    partitions: np.ndarray  # int32, Kafka partition of the message each row came in
    offsets: np.ndarray  # int64, Kafka offset of that message
    row_index: np.ndarray  # int32, position inside the message
    received_ms: np.ndarray  # int64, the Kafka record's timestamp: when ingest sent the message
    quality: ReadingQuality | None = None  # None: streamed actuals, version 0
    origins: np.ndarray | None = None  # object: who or which rule made each row's message ("" for streamed)
    _payload: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if self.quality is None:
            self.quality = ReadingQuality.actual(len(self.cols))
        if self.origins is None:
            self.origins = np.full(len(self.cols), "", dtype=object)

    def take(self, index: np.ndarray) -> "ReadingRows":
        return ReadingRows(self.cols.take(index), self.flags[index], self.partitions[index], self.offsets[index],
                           self.row_index[index], self.received_ms[index], self.quality.take(index),
                           self.origins[index])

    def columns(self) -> list[tuple[str, np.ndarray]]:
        """The COPY columns of READING_COLUMNS."""
        c, q = self.cols, self.quality
        return [("int8", c.meter_ids), ("timestamptz", c.reading_times_unix_s), ("float8", c.consumption_kwh),
                ("float8", c.demand_kw), ("float8", c.voltage_v), ("float8", c.current_a),
                ("float8", c.power_factor), ("int2", self.flags), ("char1", q.letters), ("int2", q.method_flags),
                ("int2", q.reason_codes), ("int8", q.versions_unix_s), ("float8", c.frequency_hz)]

    def copy_payload(self) -> bytes:
        """The fast path's COPY payload of columns(), built once: the writer builds it in its decode thread
        while the previous rows are being written."""
        if self._payload is None:
            self._payload = copy_payload(self.columns())
        return self._payload

    def position(self) -> list[tuple[str, np.ndarray]]:
        """Where each row came from: Kafka partition, offset, index in its message; when, and from whom."""
        return [("int4", self.partitions), ("int8", self.offsets), ("int4", self.row_index),
                ("timestamptz", self.received_ms // 1000)]


@dataclass
class RejectedRow:
    meter_id: int
    reading_time_unix_s: int
    values: tuple[float, float, float, float, float, float]  # kwh, kw, v, a, pf, hz
    reason: str
    detail: str
    received_at_unix_ms: int
    topic: str
    partition: int
    offset: int
    row_index: int = 0


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
            await self._readings.ensure(conn, map(day_of, np.unique(rows.cols.reading_times_unix_s // DAY_S) * DAY_S))
            # Conflicting re-sends are kept in rejected_readings under their message's time.
            await self._rejected.ensure(conn, map(day_of, np.unique(rows.received_ms // 1000)))
            try:
                async with conn.transaction():
                    await _copy(conn, "meters.meter_readings", rows.copy_payload())
                    await _record_substitutes(conn, rows)
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
             float(c.power_factor[i]), float(c.frequency_hz[i])),
            RejectionReason.Name(int(reasons[i])), "refused by the writer: " + describe(int(reasons[i]), c, i, self._limits),
            int(rows.received_ms[i]), READINGS_TOPIC, int(rows.partitions[i]), int(rows.offsets[i]), int(rows.row_index[i]),
        ) for i in out]
        for name in {r.reason for r in refused}:
            READINGS_REFUSED.labels(name).inc(sum(r.reason == name for r in refused))
        return rows.take(reasons == 0), refused


async def _copy(conn: AsyncConnection, table: str, payload: bytes, columns: str = READING_COLUMNS) -> None:
    async with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        await copy.write(payload)


POSITION_COLUMNS = "kafka_partition, kafka_offset, row_index, received_at"
# Whether staged row s replaces stored row m: a later version, or an actual for a substitute.
REPLACES = "(s.version > m.version OR (s.quality = 'A' AND m.quality IN ('S', 'E')))"
EDIT_COLUMNS = ("meter_id, reading_time, before_kwh, before_quality, before_version, after_kwh, after_quality,"
                " after_version, rule, kafka_partition, kafka_offset, row_index")


def quality_method_sql(alias: str = "") -> str:
    """SQL of the MDFF QualityMethod of a stored row: "A", or the letter and its method flag ("S14")."""
    a = alias + "." if alias else ""
    return f"{a}quality || CASE WHEN {a}method_flag > 0 THEN lpad({a}method_flag::text, 2, '0') ELSE '' END"


async def _stage(conn: AsyncConnection, rows: ReadingRows) -> None:
    await conn.execute(
        "CREATE TEMP TABLE staged_readings (LIKE meters.meter_readings, kafka_partition int, kafka_offset bigint,"
        " row_index int, received_at timestamptz, origin text) ON COMMIT DROP"
    )
    await _copy(conn, "staged_readings", copy_payload(rows.columns() + rows.position()),
                READING_COLUMNS + ", " + POSITION_COLUMNS)
    origins = {o for o in rows.origins if o}
    for origin in origins:  # few: one per message kind
        await conn.execute(
            "UPDATE staged_readings SET origin = %s WHERE (kafka_partition, kafka_offset) IN"
            " (SELECT * FROM unnest(%s::int[], %s::bigint[]))",
            [origin, *_positions_of(rows, origin)])


def _positions_of(rows: ReadingRows, origin: str) -> tuple[list[int], list[int]]:
    mine = rows.origins == origin
    pairs = np.unique(np.stack([rows.partitions[mine].astype(np.int64), rows.offsets[mine]]), axis=1)
    return pairs[0].tolist(), pairs[1].tolist()


async def _insert_deduplicated(conn: AsyncConnection, rows: ReadingRows) -> int:
    await _stage(conn, rows)
    replaced = await _replace_older(conn)
    cur = await conn.execute(
        f"""WITH inserted AS (
              INSERT INTO meters.meter_readings ({READING_COLUMNS})
              SELECT DISTINCT ON (meter_id, reading_time) {READING_COLUMNS} FROM staged_readings
              ORDER BY meter_id, reading_time, version DESC, kafka_partition, kafka_offset, row_index
              ON CONFLICT DO NOTHING
              RETURNING meter_id, reading_time),
            edits AS (
              INSERT INTO meters.reading_edits ({EDIT_COLUMNS})
              SELECT s.meter_id, s.reading_time, NULL, NULL, NULL, s.consumption_kwh, {quality_method_sql("s")},
                     s.version, s.origin, s.kafka_partition, s.kafka_offset, s.row_index
              FROM inserted i JOIN staged_readings s USING (meter_id, reading_time)
              WHERE s.origin LIKE '{VEE_ORIGIN}%'
              ON CONFLICT DO NOTHING)
            SELECT count(*) FROM inserted"""
    )
    stored = (await cur.fetchone())[0]
    # Rows that lost to a stored reading with other values are kept, not dropped.
    cur = await conn.execute(
        """INSERT INTO meters.rejected_readings
             (meter_id, reading_time, consumption_kwh, demand_kw, voltage, current_amps, power_factor,
              frequency_hz, reason, detail, received_at, source_topic, kafka_partition, kafka_offset, row_index)
           SELECT s.meter_id, s.reading_time, s.consumption_kwh, s.demand_kw, s.voltage, s.current_amps,
                  s.power_factor, s.frequency_hz,
                  CASE WHEN s.version < m.version THEN 'REJECTION_REASON_SUPERSEDED'
                       ELSE 'REJECTION_REASON_DUPLICATE_READING' END,
                  CASE WHEN s.version < m.version
                       THEN 'a later version (UpdateDateTime ' || m.version || ') of this interval is stored'
                       ELSE 'conflicts with the stored reading for this meter and time' END,
                  s.received_at, 'meter-readings', s.kafka_partition, s.kafka_offset, s.row_index
           FROM staged_readings s JOIN meters.meter_readings m USING (meter_id, reading_time)
           WHERE (s.consumption_kwh, s.demand_kw, s.voltage, s.current_amps, s.power_factor, s.quality,
                  s.method_flag, s.version, s.frequency_hz)
                 IS DISTINCT FROM (m.consumption_kwh, m.demand_kw, m.voltage, m.current_amps, m.power_factor,
                                   m.quality, m.method_flag, m.version, m.frequency_hz)
           ON CONFLICT DO NOTHING"""
    )
    conflicting = cur.rowcount
    DUPLICATES_SKIPPED.labels("identical").inc(len(rows.cols) - stored - replaced - conflicting)
    DUPLICATES_SKIPPED.labels("conflicting").inc(conflicting)
    READINGS_REPLACED.inc(replaced)
    return stored + replaced


async def _replace_older(conn: AsyncConnection) -> int:
    """Stored readings that a staged one replaces take its values; each change is an edit."""
    cur = await conn.execute(
        f"""WITH winners AS (
              SELECT DISTINCT ON (s.meter_id, s.reading_time) s.*, m.consumption_kwh AS before_kwh,
                     {quality_method_sql("m")} AS before_quality, m.version AS before_version
              FROM staged_readings s JOIN meters.meter_readings m USING (meter_id, reading_time)
              WHERE {REPLACES}
              ORDER BY s.meter_id, s.reading_time, s.version DESC, s.kafka_partition DESC, s.kafka_offset DESC,
                       s.row_index DESC),
            edits AS (
              INSERT INTO meters.reading_edits ({EDIT_COLUMNS})
              SELECT meter_id, reading_time, before_kwh, before_quality, before_version, consumption_kwh,
                     {quality_method_sql("winners")}, version, coalesce(origin, 'stream'), kafka_partition,
                     kafka_offset, row_index
              FROM winners ON CONFLICT DO NOTHING)
            UPDATE meters.meter_readings m SET consumption_kwh = w.consumption_kwh, demand_kw = w.demand_kw,
                   voltage = w.voltage, current_amps = w.current_amps, power_factor = w.power_factor,
                   frequency_hz = w.frequency_hz, quality_flag = w.quality_flag, quality = w.quality, method_flag = w.method_flag,
                   reason_code = w.reason_code, version = w.version
            FROM winners w WHERE m.meter_id = w.meter_id AND m.reading_time = w.reading_time"""
    )
    return cur.rowcount


async def _record_substitutes(conn: AsyncConnection, rows: ReadingRows) -> None:
    """Substitutes VEE stored into gaps (fast path): edits with nothing before them."""
    if not any(o.startswith(VEE_ORIGIN) for o in set(rows.origins)):  # one test per kind, not per row
        return
    vee = np.flatnonzero([o.startswith(VEE_ORIGIN) for o in rows.origins])
    async with conn.cursor() as cur:
        await cur.executemany(
            f"INSERT INTO meters.reading_edits ({EDIT_COLUMNS}) VALUES"
            " (%s, to_timestamp(%s), NULL, NULL, NULL, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(int(rows.cols.meter_ids[i]), int(rows.cols.reading_times_unix_s[i]),
              float(rows.cols.consumption_kwh[i]), quality_field(rows.quality.letters[i].decode(),
                                                                  int(rows.quality.method_flags[i])),
              int(rows.quality.versions_unix_s[i]), rows.origins[i], int(rows.partitions[i]),
              int(rows.offsets[i]), int(rows.row_index[i])) for i in vee])


async def _insert_rejected(conn: AsyncConnection, rejected: list[RejectedRow]) -> None:
    if not rejected:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            """INSERT INTO meters.rejected_readings
                 (meter_id, reading_time, consumption_kwh, demand_kw, voltage, current_amps, power_factor,
                  frequency_hz, reason, detail, received_at, source_topic, kafka_partition, kafka_offset, row_index)
               VALUES (%s, CASE WHEN %s BETWEEN 1 AND 253402300799 THEN to_timestamp(%s) END, %s, %s, %s, %s, %s, %s, %s, %s,
                       to_timestamp(%s / 1000.0), %s, %s, %s, %s)
               ON CONFLICT DO NOTHING""",
            [
                (r.meter_id, r.reading_time_unix_s, r.reading_time_unix_s, *r.values, r.reason, r.detail,
                 r.received_at_unix_ms, r.topic, r.partition, r.offset, r.row_index)
                for r in rejected
            ],
        )
