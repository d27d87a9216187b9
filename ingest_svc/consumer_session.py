"""What the writer's consumers share: a restart loop around consumer sessions, and their offsets and lag."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter

from ingest_svc.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)
# Longest pause between attempts to reach Kafka or PostgreSQL again: the backlog of an outage starts
# draining at most this long after the dependency is back.
MAX_RETRY_S = 5.0


async def keep_consuming(session: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event,
                         restarts: Counter, name: str) -> None:
    """Run `session(wrote)` until stopped, starting a fresh one whenever Kafka or PostgreSQL fails it.

    Nothing uncommitted is lost: a fresh consumer resumes from the committed offsets and the sinks ignore
    what they already stored. The backoff starts again once a write went through (the session sets
    `wrote`): an outage next week waits 0.5 s first, not what this one grew to."""
    delay, wrote = 0.0, asyncio.Event()
    while not stop.is_set():
        try:
            await session(wrote)
        except (KafkaError, OSError, psycopg.OperationalError) as err:
            delay = 0.5 if wrote.is_set() else min(max(delay * 2, 0.5), MAX_RETRY_S)
            wrote.clear()
            restarts.inc()
            log.warning(f"{name} restarting", extra={"fields": {"error": repr(err), "retry_in_s": delay}})
            await asyncio.sleep(delay)


def next_offsets(records: list) -> dict[TopicPartition, int]:
    return {TopicPartition(rec.topic, rec.partition): rec.offset + 1 for rec in records}


def record_lag(consumer, group: str, committed: dict[TopicPartition, int]) -> None:
    """Lag of the partitions still assigned: a rebalance may have handed some to another member since
    the poll (aiokafka's highwater() asserts on those; that assertion killed the writer process when a
    second member joined or one died)."""
    assigned = consumer.assignment()
    for tp, offset in committed.items():
        if tp not in assigned:
            continue
        end = consumer.highwater(tp)
        if end is not None:
            CONSUMER_LAG.labels(group, tp.topic, tp.partition).set(max(0, end - offset))
