"""The meter-event consumer of the writer process: Kafka `meter-events` (+ rejected) -> PostgreSQL.

As for readings: offsets are committed only after the database transaction commits, and the sink
ignores what it already stored, so a kill at any instant loses and duplicates nothing. A group of its
own (WriterSettings.events_group_id), so a burst of last gasps never waits behind a NEM12 import.
"""

import asyncio
import logging

import psycopg

from ingest_svc.config import WriterSettings
from ingest_svc.consumer_session import keep_consuming, next_offsets, record_lag
from ingest_svc.event_metrics import EVENT_WRITER_RESTARTS, EVENTS_STORED
from ingest_svc.event_sink import EventRow, EventSink
from ingest_svc.validation import Limits
from meters import kafka, tracing
from meters.db import session_options
from meters.ingest.v1 import meter_event_pb2
from meters.ingest.v1.reading_pb2 import RejectionReason

log = logging.getLogger(__name__)


def decode_events(records) -> tuple[list[EventRow], list[EventRow]]:
    accepted, rejected = [], []
    for rec in records:
        if rec.topic == kafka.EVENTS_TOPIC:
            msg = meter_event_pb2.AcceptedMeterEvents.FromString(rec.value)
            accepted += [EventRow(e.event_id, e.meter_id, e.type, e.event_time_unix_ms, e.detail,
                                  msg.ingested_at_unix_ms or rec.timestamp, rec.topic, rec.partition, rec.offset, i)
                         for i, e in enumerate(msg.events)]
        else:
            msg = meter_event_pb2.RejectedMeterEvent.FromString(rec.value)
            e = msg.event
            rejected.append(EventRow(e.event_id, e.meter_id, e.type, e.event_time_unix_ms, e.detail,
                                     msg.received_at_unix_ms or rec.timestamp, rec.topic, rec.partition, rec.offset, 0,
                                     RejectionReason.Name(msg.reason), msg.detail))
    return accepted, rejected


async def run_events(settings: WriterSettings, stop: asyncio.Event) -> None:
    """Runs beside the readings writer (ingest_svc/writer.py), which applies the migrations first."""
    sink = EventSink(Limits(window=settings.retention_window))
    await keep_consuming(lambda wrote: consume_events(settings, sink, stop, wrote), stop, EVENT_WRITER_RESTARTS,
                         "meter-event writer")


async def consume_events(settings: WriterSettings, sink: EventSink, stop: asyncio.Event, wrote: asyncio.Event) -> None:
    async with await psycopg.AsyncConnection.connect(
            settings.pg_dsn, autocommit=True, options=session_options(settings.pg_statement_timeout_s)) as conn:
        await kafka.ensure_topics(settings.kafka_bootstrap)
        consumer = kafka.consumer(settings.kafka_bootstrap, settings.events_group_id, kafka.EVENTS_TOPIC,
                                  kafka.REJECTED_EVENTS_TOPIC)
        await consumer.start()
        try:
            while not stop.is_set():
                polled = await consumer.getmany(timeout_ms=500, max_records=settings.max_messages_per_write)
                records = [rec for recs in polled.values() for rec in recs]
                if not records:
                    continue
                accepted, rejected = decode_events(records)
                committed = next_offsets(records)
                with tracing.batch_span("ingest_writer.store_events", tracing.sampled_contexts(records)):
                    stored, _ = await sink.write(conn, accepted, rejected)
                    await consumer.commit(committed)  # only now that the rows are committed
                wrote.set()
                EVENTS_STORED.inc(stored)
                record_lag(consumer, settings.events_group_id, committed)
        finally:
            await consumer.stop()
