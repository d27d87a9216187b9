"""A dead idempotent producer is replaced and the unacknowledged messages re-sent (real Kafka).

aiokafka's producer dies for good on OutOfOrderSequenceNumber (its sender task ends and every later
send fails with that error): seen in clean-clone runs on a loaded machine, where it made every
StreamMeterEvents call fail UNAVAILABLE for the rest of the ingest process's life. The test puts a
producer in that very state (the accumulator's fatal error, as aiokafka's own _fail_all sets it)."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import OutOfOrderSequenceNumber

from ingest_svc.publisher import Outgoing, send_acknowledged
from meters import kafka

pytestmark = pytest.mark.infra


async def _published(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        got = []
        for _ in range(50):
            for recs in (await consumer.getmany(timeout_ms=200)).values():
                got += [r.value for r in recs]
            if len(got) >= expected:
                break
        return got
    finally:
        await consumer.stop()


@pytest.mark.asyncio
async def test_sends_after_a_fatal_producer_error_go_through_a_fresh_producer(local_stack, topic_prefix):
    bootstrap, topic = local_stack.kafka_bootstrap, f"{topic_prefix}events"
    await kafka.ensure_topics(bootstrap, {topic: 1})
    producer = kafka.RenewableProducer(bootstrap)
    await producer.start()
    try:
        await send_acknowledged(producer, [Outgoing(topic, b"before", partition=0)], "test messages")
        dead = producer.current
        dead._message_accumulator.fail_all(OutOfOrderSequenceNumber())
        with pytest.raises(OutOfOrderSequenceNumber):  # what every send met before the fix
            await dead.send(topic, b"x", partition=0)
        await asyncio.gather(*(send_acknowledged(producer, [Outgoing(topic, f"after-{i}".encode(), partition=0)],
                                                 "test messages") for i in range(3)))
        assert producer.renewals == 1 and producer.current is not dead  # three callers, one renewal
        assert sorted(await _published(bootstrap, topic, 4)) == [b"after-0", b"after-1", b"after-2", b"before"]
    finally:
        await producer.stop()
