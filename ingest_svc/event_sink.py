"""Writes decoded meter events to PostgreSQL, one transaction per call (ingest_0005_meter_events.sql).

Accepted events are staged with their Kafka position and inserted ON CONFLICT DO NOTHING on
(meter_id, event_id, event_time): an event id is unique per meter (ingest_0007_meter_id_in_keys.sql,
docs/decisions.md 27). A staged event whose stored twin has another Kafka position is a resend by the
head-end: it is kept in meters.rejected_meter_events as DUPLICATE_EVENT, never dropped. A replay of
the same message after a writer crash finds its own position stored and adds nothing. Events outside
the retention window (ingest refuses those; this is the second line) are kept as rejected.
"""

import time
from dataclasses import dataclass, replace

import numpy as np
from psycopg import AsyncConnection

from ingest_svc.event_metrics import EVENT_REJECTIONS_STORED
from ingest_svc.validation import Limits, judge, time_checks
from meters.ingest.v1.reading_pb2 import RejectionReason
from meters.kafka import EVENTS_TOPIC
from meters.metrics import DB_WRITE_SECONDS
from meters.partitions import DailyPartitions, day_of
from meters.timestamps import from_unix

MAX_TIME_MS = 253402300799_000  # 9999-12-31: later times have no timestamptz

_STAGED = ("event_id, meter_id, event_type, event_time, detail, ingested_at, kafka_partition, kafka_offset,"
           " row_index")


@dataclass(frozen=True)
class EventRow:
    """One event as the writer got it: the event, and where and when it came from."""

    event_id: str
    meter_id: int
    event_type: int
    time_ms: int
    detail: str
    received_ms: int  # ingest's time of publishing (accepted) or rejecting it
    topic: str
    partition: int
    offset: int
    row_index: int
    reason: str = ""  # rejected rows: the RejectionReason name
    reason_detail: str = ""


class EventSink:
    def __init__(self, limits: Limits = Limits(), clock=time.time):
        self._limits = limits
        self._clock = clock
        self._events = DailyPartitions("meters.meter_events")
        self._rejected = DailyPartitions("meters.rejected_meter_events")

    async def write(self, conn: AsyncConnection, accepted: list[EventRow], rejected: list[EventRow]) -> tuple[int, int]:
        """Store both in one transaction; return (events newly stored, rejections stored)."""
        started = time.perf_counter()
        accepted, refused = self._refuse_outside_window(accepted)
        rejected = rejected + refused
        # A resend is kept under its own received time, so any accepted row may become a rejection.
        await self._rejected.ensure(conn, {day_of(r.received_ms // 1000) for r in rejected + accepted})
        await self._events.ensure(conn, {day_of(r.time_ms // 1000) for r in accepted})
        async with conn.transaction():
            stored, resends = await _insert_events(conn, accepted) if accepted else (0, 0)
            await _insert_rejected(conn, rejected)
        for name in {r.reason for r in rejected}:
            EVENT_REJECTIONS_STORED.labels(name).inc(sum(r.reason == name for r in rejected))
        EVENT_REJECTIONS_STORED.labels(RejectionReason.Name(RejectionReason.REJECTION_REASON_DUPLICATE_EVENT)).inc(resends)
        DB_WRITE_SECONDS.labels("meter_events").observe(time.perf_counter() - started)
        return stored, len(rejected) + resends

    def _refuse_outside_window(self, rows: list[EventRow]) -> tuple[list[EventRow], list[EventRow]]:
        if not rows:
            return rows, []
        times_s = np.array([r.time_ms // 1000 for r in rows], dtype=np.int64)
        reasons = judge(time_checks(times_s, int(self._clock()), self._limits), len(rows))
        keep = [r for r, code in zip(rows, reasons) if code == 0]
        refused = [replace(r, reason=RejectionReason.Name(int(code)),
                           reason_detail="refused by the writer: outside the retention window")
                   for r, code in zip(rows, reasons) if code != 0]
        return keep, refused


async def _insert_events(conn: AsyncConnection, rows: list[EventRow]) -> tuple[int, int]:
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS staged_events (event_id TEXT, meter_id BIGINT, event_type SMALLINT,"
        " event_time TIMESTAMPTZ, detail TEXT, ingested_at TIMESTAMPTZ, kafka_partition INTEGER, kafka_offset BIGINT,"
        " row_index INTEGER) ON COMMIT DELETE ROWS")
    async with conn.cursor().copy(f"COPY staged_events ({_STAGED}) FROM STDIN") as copy:
        for r in rows:
            await copy.write_row((r.event_id, r.meter_id, r.event_type, from_unix(r.time_ms / 1000), r.detail,
                                  from_unix(r.received_ms / 1000), r.partition, r.offset, r.row_index))
    cur = await conn.execute(
        f"""WITH inserted AS (
              INSERT INTO meters.meter_events ({_STAGED})
              SELECT DISTINCT ON (meter_id, event_id, event_time) {_STAGED} FROM staged_events
              ORDER BY meter_id, event_id, event_time, kafka_partition, kafka_offset, row_index
              ON CONFLICT DO NOTHING RETURNING 1)
            SELECT count(*) FROM inserted""")
    stored = (await cur.fetchone())[0]
    cur = await conn.execute(
        f"""INSERT INTO meters.rejected_meter_events (event_id, meter_id, event_type, event_time, event_detail, reason,
              detail, received_at, source_topic, kafka_partition, kafka_offset, row_index)
            SELECT s.event_id, s.meter_id, s.event_type, s.event_time, s.detail, 'REJECTION_REASON_DUPLICATE_EVENT',
                   'event_id already stored (received ' || to_char(m.ingested_at AT TIME ZONE 'UTC',
                   'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ')', s.ingested_at, '{EVENTS_TOPIC}', s.kafka_partition,
                   s.kafka_offset, s.row_index
            FROM staged_events s JOIN meters.meter_events m USING (meter_id, event_id, event_time)
            WHERE (s.kafka_partition, s.kafka_offset, s.row_index) <> (m.kafka_partition, m.kafka_offset, m.row_index)
            ON CONFLICT DO NOTHING""")
    return stored, cur.rowcount


async def _insert_rejected(conn: AsyncConnection, rows: list[EventRow]) -> None:
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            """INSERT INTO meters.rejected_meter_events (event_id, meter_id, event_type, event_time, event_detail,
                 reason, detail, received_at, source_topic, kafka_partition, kafka_offset, row_index)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
            [(r.event_id, r.meter_id, r.event_type,
              from_unix(r.time_ms / 1000) if 0 < r.time_ms <= MAX_TIME_MS else None, r.detail, r.reason,
              r.reason_detail, from_unix(r.received_ms / 1000), r.topic, r.partition, r.offset, r.row_index)
             for r in rows])
