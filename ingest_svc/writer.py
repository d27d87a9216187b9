"""The writer consumer group: Kafka -> PostgreSQL, `python -m ingest_svc.writer`.

At-least-once from Kafka plus an idempotent sink gives exactly-once rows:
offsets are committed only after the database transaction commits, and a
replayed message finds its rows already stored. Kill it at any instant and
restart it: nothing is lost or duplicated.
"""

import asyncio
import logging
import signal
from pathlib import Path

import numpy as np
import psycopg
from prometheus_client import start_http_server

from ingest_svc.config import WriterSettings
from ingest_svc.event_writer import run_events
from ingest_svc.consumer_session import keep_consuming, next_offsets, record_lag
from ingest_svc.metrics import READINGS_STORED, REJECTIONS_STORED, WRITER_RESTARTS
from ingest_svc.reading_sink import ReadingRows, ReadingSink, RejectedRow
from ingest_svc.validation import Limits
from meters import kafka, log as logs, tracing
from meters.db import migrate, session_options
from meters.ingest.v1 import reading_pb2
from meters.ingest.v1.reading_pb2 import RejectionReason
from meters.readings import ReadingColumns, ReadingQuality, from_accepted_with_quality

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def decode(records) -> tuple[ReadingRows | None, list[RejectedRow]]:
    """Decode one poll's Kafka records into rows for the sink."""
    parts, flags, partitions, offsets, row_index, received, rejected = [], [], [], [], [], [], []
    qualities, origins = [], []
    for rec in records:
        if rec.topic == kafka.READINGS_TOPIC:
            cols, quality, nem_quality, origin = from_accepted_with_quality(rec.value)
            n = len(cols)
            parts.append(cols)
            flags.append(quality)
            qualities.append(nem_quality)
            origins.append(np.full(n, origin, dtype=object))
            partitions.append(np.full(n, rec.partition, dtype=np.int32))
            offsets.append(np.full(n, rec.offset, dtype=np.int64))
            row_index.append(np.arange(n, dtype=np.int32))
            received.append(np.full(n, rec.timestamp, dtype=np.int64))
        else:
            msg = reading_pb2.RejectedReading.FromString(rec.value)
            r = msg.reading
            # An MDFF import's rejected interval is keyed by its file and line, not the Kafka message.
            where = (msg.source, 0, msg.source_line, msg.source_index) if msg.source else \
                (rec.topic, rec.partition, rec.offset, 0)
            rejected.append(RejectedRow(
                r.meter_id, r.reading_time_unix_s,
                (r.consumption_kwh, r.demand_kw, r.voltage_v, r.current_a, r.power_factor, r.frequency_hz),
                RejectionReason.Name(msg.reason), msg.detail, msg.received_at_unix_ms, *where,
            ))
    if not parts:
        return None, rejected
    rows = ReadingRows(
        ReadingColumns.concat(parts), np.concatenate(flags), np.concatenate(partitions),
        np.concatenate(offsets), np.concatenate(row_index), np.concatenate(received),
        ReadingQuality.concat(qualities), np.concatenate(origins),
    )
    rows.copy_payload()  # here, in the decode thread, not while PostgreSQL waits for it
    return rows, rejected


async def run(settings: WriterSettings, stop: asyncio.Event) -> None:
    await asyncio.to_thread(migrate, settings.pg_dsn, MIGRATIONS)
    sink = ReadingSink(Limits(window=settings.retention_window))
    await keep_consuming(lambda wrote: consume(settings, sink, stop, wrote), stop, WRITER_RESTARTS, "writer")


async def consume(settings: WriterSettings, sink: ReadingSink, stop: asyncio.Event, wrote: asyncio.Event) -> None:
    """One session: a database connection of its own, then a consumer, until stopped or either fails.

    A plain connection, not a pool: a pool re-connects on a backoff of its own that doubles without
    bound (psycopg_pool: 1, 2, 4 ... 64 s into an outage), so after a one-minute outage the writer
    sat idle up to a minute more; here each attempt connects at once, paced by consumer_session.MAX_RETRY_S."""
    async with await psycopg.AsyncConnection.connect(
            settings.pg_dsn, autocommit=True, options=session_options(settings.pg_statement_timeout_s)) as conn:
        await kafka.ensure_topics(settings.kafka_bootstrap)  # inside the restart loop: the broker may be down
        consumer = kafka.consumer(settings.kafka_bootstrap, settings.group_id, kafka.READINGS_TOPIC,
                                  kafka.REJECTED_TOPIC)
        await consumer.start()
        groups = _decoded_groups(consumer, settings, stop)
        ahead = asyncio.ensure_future(anext(groups, None))
        try:
            while (item := await ahead) is not None:
                committed, (rows, rejected), traced = item
                ahead = asyncio.ensure_future(anext(groups, None))  # decoded while this one is written
                with tracing.batch_span("ingest_writer.store", traced) as span:  # binary COPY: no SQL span of its own
                    stored = await sink.write(conn, rows, rejected)  # its own transactions
                    span.set_attribute("meters.readings_stored", stored)
                    # Only now that the rows are committed may Kafka forget the messages.
                    await consumer.commit(committed)
                wrote.set()
                READINGS_STORED.inc(stored)
                REJECTIONS_STORED.inc(len(rejected))
                record_lag(consumer, settings.group_id, committed)
        finally:
            ahead.cancel()  # and wait for it: the generator cannot be closed while it runs
            await asyncio.wait([ahead])
            if not ahead.cancelled():
                ahead.exception()  # seen: the error that ends this session is already on its way
            await groups.aclose()
            await consumer.stop()


async def _decoded_groups(consumer, settings: WriterSettings, stop: asyncio.Event):
    """Each poll's records in runs of at most max_bytes_per_write, decoded in a thread: (the offsets to commit
    once the run is stored, decoded, the run's sampled trace contexts). A run's messages are let go once
    decoded, not when the poll is done."""
    while not stop.is_set():
        polled = await consumer.getmany(timeout_ms=500, max_records=settings.max_messages_per_write)
        runs = _runs([rec for recs in polled.values() for rec in recs], settings.max_bytes_per_write)
        del polled
        runs.reverse()
        while runs:
            records = runs.pop()
            decoded = await asyncio.to_thread(decode, records)
            offsets, traced = next_offsets(records), tracing.sampled_contexts(records)
            del records
            yield offsets, decoded, traced


def _runs(records: list, max_bytes: int) -> list[list]:
    """Consecutive runs of records (in poll order, so each partition's stay in order) of at most
    max_bytes of message each; a larger message is a run of its own."""
    runs, run, size = [], [], 0
    for rec in records:
        if run and size + len(rec.value) > max_bytes:
            runs.append(run)
            run, size = [], 0
        run.append(rec)
        size += len(rec.value)
    return runs + [run] if run else runs


async def main(settings: WriterSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    start_http_server(settings.metrics_port, addr=settings.metrics_addr)
    log.info("writer starting", extra={"fields": {"group": settings.group_id}})
    await run_writers(settings, stop)


async def run_writers(settings: WriterSettings, stop: asyncio.Event) -> None:
    """Readings and meter events, each its own consumer group; the migrations run before either consumes."""
    await asyncio.to_thread(migrate, settings.pg_dsn, MIGRATIONS)
    await asyncio.gather(run(settings, stop), run_events(settings, stop))


if __name__ == "__main__":
    settings = WriterSettings()
    logs.configure("ingest_writer", settings.log_level)
    asyncio.run(main(settings))
