"""The harness itself: real PostgreSQL and Kafka answer, and Kafka keeps committed data across a crash."""

import asyncio
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from meters.localstack import orphans
from meters.localstack.common import free_port
from meters.localstack.kafka import LocalKafka

pytestmark = pytest.mark.infra

N = 1_000


def test_postgres_answers_and_binary_copy_round_trips(fresh_db):
    rows = [(i, f"meter-{i}", i * 0.25) for i in range(10_000)]
    with psycopg.connect(fresh_db) as conn, conn.cursor() as cur:
        assert cur.execute("SELECT 1 + 1").fetchone() == (2,)
        cur.execute("CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL, kwh double precision)")
        with cur.copy("COPY t (id, name, kwh) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text", "float8"])
            for row in rows:
                copy.write_row(row)
        assert cur.execute("SELECT count(*), sum(kwh) FROM t").fetchone() == (len(rows), sum(r[2] for r in rows))
        with cur.copy("COPY (SELECT id, name, kwh FROM t ORDER BY id) TO STDOUT (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text", "float8"])
            assert list(copy.rows()) == rows


def test_fresh_db_is_empty_and_timescaledb_is_optional(fresh_db):
    with psycopg.connect(fresh_db) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
        # Services use TimescaleDB when it is there and native partitioning otherwise; here it is not packaged.
        conn.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()


async def produce(bootstrap: str, topic: str, start: int, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sends = [await producer.send(topic, key=str(i % 17).encode(), value=str(i).encode())
                 for i in range(start, start + count)]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, group: str, count: int, commit: bool = True) -> list[int]:
    """Read `count` messages as `group` (manual commits), committing after each batch."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest", isolation_level="read_committed")
    await consumer.start()
    seen: list[int] = []
    try:
        async with asyncio.timeout(60):
            while len(seen) < count:
                batch = await consumer.getmany(timeout_ms=1000, max_records=min(200, count - len(seen)))
                for records in batch.values():
                    seen.extend(int(r.value) for r in records)
                if batch and commit:
                    await consumer.commit()
    finally:
        await consumer.stop()
    return seen


async def committed(bootstrap: str, topic: str, group: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            await consumer._client.force_metadata_update()
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum([await consumer.committed(tp) or 0 for tp in parts])
    finally:
        await consumer.stop()


async def test_idempotent_producer_and_manual_commit_group(local_stack, topic_prefix):
    topic, group = f"{topic_prefix}readings", f"{topic_prefix}group"
    local_stack.kafka.create_topics({topic: 6})
    local_stack.kafka.create_topics({topic: 6})  # idempotent
    await produce(local_stack.kafka_bootstrap, topic, 0, N)
    seen = await consume(local_stack.kafka_bootstrap, topic, group, N)
    assert sorted(seen) == list(range(N))
    assert await committed(local_stack.kafka_bootstrap, topic, group) == N


@pytest.fixture
def own_kafka():
    """A broker of its own, so that killing it leaves the session's alone."""
    base = Path(tempfile.mkdtemp(prefix="meters-kafka-", dir="/tmp"))
    orphans.claim(base)
    kafka = LocalKafka(base, free_port())
    try:
        yield kafka.start()
    finally:
        kafka.stop()
        shutil.rmtree(base, ignore_errors=True)


async def test_sigkill_and_restart_keeps_committed_data(own_kafka):
    topic, group = "crash-readings", "crash-group"
    own_kafka.create_topics({topic: 6})
    await produce(own_kafka.bootstrap, topic, 0, N)
    first = await consume(own_kafka.bootstrap, topic, group, N // 2)

    own_kafka.kill()
    assert not own_kafka.is_running()
    await asyncio.to_thread(own_kafka.start)

    # Every acknowledged message is still on the log, and the group's commits survived.
    assert await committed(own_kafka.bootstrap, topic, group) == len(first)
    rest = await consume(own_kafka.bootstrap, topic, group, N - len(first))
    assert sorted(first + rest) == list(range(N))
    everything = await consume(own_kafka.bootstrap, topic, "fresh-group", N, commit=False)
    assert sorted(everything) == list(range(N))
