"""scoring_svc's stream consumer survives a failure: it logs, backs off, resumes from the committed
offsets (real Kafka), and never commits a message it did not process."""

import asyncio

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from meters import kafka
from meters.ingest.v1 import reading_pb2
from meters.readings import to_batch
from scoring_svc.anomalies import AnomalyScorer
from scoring_svc.consumer import StreamScorer
from scoring_svc.history import MeterHistory
from tests.e2e.readings import readings

pytestmark = pytest.mark.infra


class _ServedModels:
    anomaly = object()  # "a model is served": the consumer does not hold its records


class FlakyScorer(StreamScorer):
    """Fails on its first two polls (as a database outage would), then records what it handled."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0
        self.handled: list[tuple[int, int]] = []

    async def handle(self, records) -> int:
        self.calls += 1
        if self.calls <= 2:
            raise ConnectionError("database away")
        self.handled += [(r.partition, r.offset) for r in records]
        return 0


async def test_consumer_failure_is_retried_from_the_committed_offsets(local_stack, topic_prefix, monkeypatch):
    bootstrap, topic, group = local_stack.kafka_bootstrap, f"{topic_prefix}readings", f"{topic_prefix}scoring"
    monkeypatch.setattr(kafka, "READINGS_TOPIC", topic)
    await kafka.ensure_topics(bootstrap, {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(5):
            msg = reading_pb2.AcceptedReadings(batch=to_batch(readings(1 + i, 1, 4)))
            await producer.send_and_wait(topic, msg.SerializeToString(), partition=0)
    finally:
        await producer.stop()
    scorer = FlakyScorer(bootstrap, group, AnomalyScorer(_ServedModels(), MeterHistory()), _ServedModels(), None,
                         None, backoff_s=(0.05, 0.2))
    task = asyncio.create_task(scorer.run_forever())
    try:
        for _ in range(300):
            if len(scorer.handled) >= 5:
                break
            await asyncio.sleep(0.1)
        alive = not task.done()  # the failures did not end it
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert alive
    assert scorer.calls >= 3 and sorted(set(scorer.handled)) == [(0, o) for o in range(5)]
    check = kafka.consumer(bootstrap, group)
    await check.start()
    try:
        assert await check.committed(TopicPartition(topic, 0)) == 5
    finally:
        await check.stop()
