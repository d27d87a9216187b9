"""Consumer group `customer` on meter-readings: keeps per-meter hourly usage.

Exactly-once cells from at-least-once delivery: each poll is folded into
hourly_usage and the next offsets are stored in the same PostgreSQL
transaction; Kafka offsets are committed only after that commit. A message
replayed after a crash is below the stored offset and skipped.
"""

import asyncio
import logging

import numpy as np

from psycopg_pool import AsyncConnectionPool

from customer_svc.hourly import aggregate
from customer_svc.metrics import USAGE_READINGS_FOLDED
from customer_svc.usage_store import record_usage
from meters import kafka, tracing
from meters.readings import from_accepted

log = logging.getLogger(__name__)


async def _stored_offsets(conn, topic: str) -> dict[int, int]:
    cur = await conn.execute(
        "SELECT kafka_partition, next_offset FROM customers.consumer_offsets WHERE topic = %s", [topic])
    return dict(await cur.fetchall())


async def fold(conn, polled: dict) -> int:
    """Fold one poll into hourly usage (one transaction); return readings folded."""
    async with conn.transaction():
        done = await _stored_offsets(conn, kafka.READINGS_TOPIC)
        parts, n = [], 0
        for tp, recs in polled.items():
            for rec in recs:
                if rec.offset < done.get(tp.partition, 0):
                    continue  # already folded before a crash
                cols, _quality = from_accepted(rec.value)
                if len(cols):
                    parts.append(cols)
                    n += len(cols)
        if parts:
            # One aggregation over the whole poll: several messages may touch the same (meter, hour)
            # cell, and the upsert must see each cell once (a reading repeated across them counts once).
            col = {f: np.concatenate([getattr(c, f) for c in parts]) for f in
                   ("meter_ids", "reading_times_unix_s", "consumption_kwh", "demand_kw")}
            usage = aggregate(col["meter_ids"], col["reading_times_unix_s"], col["consumption_kwh"],
                              col["demand_kw"])
            await record_usage(conn, usage)
        for tp, recs in polled.items():
            await conn.execute(
                """INSERT INTO customers.consumer_offsets (topic, kafka_partition, next_offset)
                   VALUES (%s, %s, %s) ON CONFLICT (topic, kafka_partition)
                   DO UPDATE SET next_offset = greatest(customers.consumer_offsets.next_offset, EXCLUDED.next_offset)""",
                [tp.topic, tp.partition, recs[-1].offset + 1])
    return n


async def consume_forever(pool: AsyncConnectionPool, bootstrap: str, group_id: str, max_records: int = 200) -> None:
    consumer = kafka.consumer(bootstrap, group_id, kafka.READINGS_TOPIC)
    await consumer.start()
    try:
        while True:
            polled = await consumer.getmany(timeout_ms=500, max_records=max_records)
            polled = {tp: recs for tp, recs in polled.items() if recs}
            if not polled:
                continue
            records = [rec for recs in polled.values() for rec in recs]
            with tracing.batch_span("customer.fold_usage", tracing.sampled_contexts(records), records=len(records)):
                async with pool.connection() as conn:
                    USAGE_READINGS_FOLDED.inc(await fold(conn, polled))
            await kafka.commit_stored(consumer, {tp: recs[-1].offset + 1 for tp, recs in polled.items()})
    except asyncio.CancelledError:
        raise
    finally:
        await consumer.stop()
