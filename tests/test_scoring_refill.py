"""scoring_svc's history: the refill from the log on partition assignment (real Kafka), and the
vectorised ring keeping each meter's latest readings."""

import dataclasses

import numpy as np
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from meters import kafka
from meters.ingest.v1 import reading_pb2
from meters.readings import to_batch
from scoring_svc.history import MeterHistory
from scoring_svc.refill import refill
from tests.e2e.readings import readings


@pytest.mark.infra
async def test_refill_remembers_the_readings_before_the_committed_offsets(local_stack, topic_prefix):
    bootstrap, topic, group = local_stack.kafka_bootstrap, f"{topic_prefix}readings", f"{topic_prefix}scoring"
    await kafka.ensure_topics(bootstrap, {topic: 2})
    cols = readings(1, 10, 8)  # 10 meters x 8 readings, meter-major
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for step in range(8):  # one message per (interval, partition), in time order
            part = cols.take(np.flatnonzero(np.tile(np.arange(8), 10) == step))
            for p in (0, 1):
                msg = reading_pb2.AcceptedReadings(batch=to_batch(part.take(part.meter_ids % 2 == p)))
                await producer.send_and_wait(topic, msg.SerializeToString(), partition=p)
    finally:
        await producer.stop()
    consumer = kafka.consumer(bootstrap, group)
    tps = {TopicPartition(topic, 0), TopicPartition(topic, 1)}
    consumer.assign(list(tps))
    await consumer.start()
    try:
        # Messages 0-5 of partition 0 were scored and committed; partition 1 never was.
        await consumer.commit({TopicPartition(topic, 0): 6})
        history = MeterHistory()
        remembered = await refill(bootstrap, consumer, tps, history, window_s=86_400)
    finally:
        await consumer.stop()
    assert remembered == 5 * 6  # partition 0's five meters, six intervals each: nothing past the commit
    kept = history.before(cols, history_s=10**9)
    assert len(kept) == 0  # all are at or after each meter's first reading in `cols`...
    later = cols.take(cols.reading_times_unix_s == cols.reading_times_unix_s.max())
    kept = history.before(later, history_s=10**9)
    assert sorted(set(kept.meter_ids.tolist())) == [2, 4, 6, 8, 10]
    assert len(kept) == 30 and kept.reading_times_unix_s.max() < later.reading_times_unix_s.max() - 900


def test_history_keeps_each_meters_latest_readings_once():
    history = MeterHistory(depth=4, capacity=2)
    cols = readings(1, 5, 10)
    history.add(cols.take(np.arange(len(cols))[::-1]))  # any order
    history.add(cols)  # a replay adds nothing
    last = cols.take(np.arange(9, 50, 10))
    later = dataclasses.replace(last, reading_times_unix_s=last.reading_times_unix_s + 900)  # each meter's next
    kept = history.before(later, history_s=10**9)
    assert len(history) == 5 and len(kept) == 5 * 4
    for m in range(1, 6):
        times = np.sort(kept.reading_times_unix_s[kept.meter_ids == m])
        np.testing.assert_array_equal(times, np.sort(cols.reading_times_unix_s[cols.meter_ids == m])[-4:])
