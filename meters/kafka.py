"""Kafka topics and client settings shared by producers and consumers."""

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (CommitFailedError, KafkaConnectionError, OutOfOrderSequenceNumber,
                             ProducerFenced, TopicAlreadyExistsError)
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from meters.kafka_security import client_options

READINGS_TOPIC = "meter-readings"
REJECTED_TOPIC = "meter-readings-rejected"
EVENTS_TOPIC = "meter-events"  # head-end alarms, partition = meter_id % 6 as readings
REJECTED_EVENTS_TOPIC = "meter-events-rejected"
# Six partitions: enough writer/scorer parallelism for a small cluster, and
# every meter's readings stay on one of them (partition = meter_id % 6).
DEFAULT_TOPICS = {READINGS_TOPIC: 6, REJECTED_TOPIC: 3, EVENTS_TOPIC: 6, REJECTED_EVENTS_TOPIC: 3}
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def producer(bootstrap: str) -> AIOKafkaProducer:
    """Idempotent, acks=all: an acknowledged send is on the log exactly once."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=1024 * 1024,
        max_request_size=MAX_MESSAGE_BYTES,
        request_timeout_ms=30_000,
        **client_options(),
    )


# Errors after which aiokafka's producer is dead: its sender task ends and every later send fails with
# the same error. Seen on a loaded broker: request timeouts, retried batches, then OutOfOrderSequenceNumber.
FATAL_PRODUCER_ERRORS = (OutOfOrderSequenceNumber, ProducerFenced)
log = logging.getLogger(__name__)


class RenewableProducer:
    """The idempotent producer of `producer()`, replaced by a fresh one (a new producer id, so new
    sequence numbers) when a send failed with a FATAL_PRODUCER_ERRORS error: `renew(seen)`. Every other
    attribute is the current producer's. The caller re-sends what was not acknowledged; a message the
    dead producer did write may then be on the log twice, which the consumers' dedup handles (an
    identical reading is stored once, a repeated event id is kept as DUPLICATE_EVENT)."""

    def __init__(self, bootstrap: str):
        self._bootstrap = bootstrap
        self.current = producer(bootstrap)
        self._lock = asyncio.Lock()
        self.renewals = 0

    def __getattr__(self, name: str):
        return getattr(self.current, name)

    async def start(self) -> None:
        await self.current.start()

    async def stop(self) -> None:
        await self.current.stop()

    async def renew(self, seen: AIOKafkaProducer) -> None:
        """Replace `seen` (the producer whose send failed) unless another call already did."""
        async with self._lock:
            if self.current is not seen:
                return
            fresh = producer(self._bootstrap)
            await fresh.start()
            self.current, self.renewals = fresh, self.renewals + 1
            log.warning("Kafka producer renewed after a fatal error", extra={"fields": {"renewals": self.renewals}})
        try:
            await seen.stop()
        except Exception as err:  # noqa: BLE001 - the dead producer's own error again
            log.info("dead Kafka producer stopped with an error", extra={"fields": {"error": repr(err)}})


def consumer(bootstrap: str, group_id: str, *topics: str) -> AIOKafkaConsumer:
    """Manual commits only: callers commit after their side effects are durable."""
    return _consumer(*topics, bootstrap_servers=bootstrap, group_id=group_id, auto_offset_reset="earliest")


def reader(bootstrap: str) -> AIOKafkaConsumer:
    """A consumer outside any group (the caller assigns and seeks), with the group consumers' settings."""
    return _consumer(bootstrap_servers=bootstrap, group_id=None)


def _consumer(*topics: str, **kwargs) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, enable_auto_commit=False, isolation_level="read_committed",
                            max_partition_fetch_bytes=MAX_MESSAGE_BYTES, fetch_max_bytes=4 * MAX_MESSAGE_BYTES,
                            **client_options(), **kwargs)


async def commit_stored(consumer: AIOKafkaConsumer, offsets: dict) -> bool:
    """Commit offsets whose effects are already durable in PostgreSQL. A rebalance may have moved the
    partitions to another group member (CommitFailedError): the new owner replays from the last
    committed offset and the consumers' idempotent writes make that harmless, so it is logged, not
    raised (raising would end the consumer task, and with it the service)."""
    try:
        await consumer.commit(offsets)
        return True
    except CommitFailedError:
        log.warning("offsets not committed (rebalance); the next owner replays them, harmlessly")
        return False


def replication_for(brokers: int) -> tuple[int, dict[str, str]]:
    """A topic's replication factor and its configs on a cluster of `brokers`: three replicas where
    there are three brokers, and min.insync.replicas=2 with them, so that an acks=all write is on two
    brokers before it is acknowledged and one broker may die without losing or refusing a write."""
    configs = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
    if brokers >= 3:
        configs["min.insync.replicas"] = "2"
    return min(3, max(1, brokers)), configs


# A process may start while the broker is down or restarting: wait for it rather than exit.
@retry(retry=retry_if_exception_type(KafkaConnectionError), stop=stop_after_delay(120),
       wait=wait_exponential(multiplier=0.2, max=5), reraise=True)
async def ensure_topics(bootstrap: str, topics: dict[str, int] = DEFAULT_TOPICS) -> None:
    """Create the topics that are missing, replicated as replication_for() says for the brokers the
    cluster's metadata lists now; existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster()).get("brokers", ()))
        replicas, configs = replication_for(brokers)
        for name, partitions in topics.items():
            try:
                await admin.create_topics([NewTopic(name, partitions, replicas, topic_configs=configs)])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
