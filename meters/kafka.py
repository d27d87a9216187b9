"""Kafka topics and client settings shared by producers and consumers."""

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

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
    )


def consumer(bootstrap: str, group_id: str, *topics: str) -> AIOKafkaConsumer:
    """Manual commits only: callers commit after their side effects are durable."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
        fetch_max_bytes=4 * MAX_MESSAGE_BYTES,
    )


# A process may start while the broker is down or restarting: wait for it rather than exit.
@retry(retry=retry_if_exception_type(KafkaConnectionError), stop=stop_after_delay(120),
       wait=wait_exponential(multiplier=0.2, max=5), reraise=True)
async def ensure_topics(bootstrap: str, topics: dict[str, int] = DEFAULT_TOPICS) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for name, partitions in topics.items():
            try:
                await admin.create_topics(
                    [NewTopic(name, partitions, 1, topic_configs={"max.message.bytes": str(MAX_MESSAGE_BYTES)})]
                )
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
