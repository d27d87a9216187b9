"""A replicated Kafka cluster (three KRaft broker JVMs, replication factor 3, min.insync.replicas=2)
under ingest and the writer: the leader broker of a busy partition is SIGKILLed mid-stream and
restarted, and every reading is stored exactly once. Then, with three writer processes (members of
one consumer group), the leader broker and one writer are SIGKILLed together mid-stream and both
restarted: the dead member's partitions go to the survivors at the rebalance while the partitions
elect new leaders, and again nothing is lost. The scenarios are meters/kafka_failover.py, which
bench/kafka_failover.py times; the times are printed here (run with -s), not asserted: this
machine's load varies too much for a bound.

A module of its own with a module-scoped stack: the rest of the suite keeps the single broker."""

import grpc
import pytest

from meters import kafka
from meters.ingest_client import register_meters
from meters.kafka_failover import broker_and_writer_kill, broker_kill
from tests.e2e.own_stack import own_mesh
from tests.e2e.readings import interval_end, meters

pytestmark = pytest.mark.infra

METERS = 200  # every partition (meter_id % 6) in each batch
END = interval_end()
DAY_SLOTS = 96


@pytest.fixture(scope="module")
def cluster_mesh():
    with own_mesh("kafka-cluster", "ingest", "ingest-writer", kafka_nodes=3) as (stack, mesh):
        with mesh.channel("ingest") as ch:
            register_meters(ch, meters(1, METERS))
            yield stack, mesh, ch


def test_topics_are_replicated_three_ways(cluster_mesh):
    stack, _, _ = cluster_mesh
    for partition in stack.kafka.partitions(kafka.READINGS_TOPIC):
        assert len(partition["replicas"]) == 3 and len(partition["isr"]) == 3, partition


def test_leader_broker_sigkilled_mid_stream_loses_and_duplicates_nothing(cluster_mesh):
    stack, mesh, ch = cluster_mesh
    failover = broker_kill(stack.kafka, mesh, ch, 1, METERS, END)
    print(f"\n[kafka-cluster] {failover.line()}")
    assert set(failover.failed_calls) <= {grpc.StatusCode.UNAVAILABLE.name}, failover.failed_calls
    assert failover.lost == 0, f"{failover.lost} readings lost\n{mesh.log_tail('ingest-writer')}"
    assert failover.duplicated == 0
    assert not failover.survivors_exited, mesh.log_tail("ingest-writer")


def test_leader_broker_and_one_of_three_writers_sigkilled_together(cluster_mesh):
    stack, mesh, ch = cluster_mesh
    # A year of slots back: no reading time of the first test's stream.
    failover = broker_and_writer_kill(stack.kafka, mesh, ch, 1, METERS, END - 365 * DAY_SLOTS * 900)
    print(f"\n[kafka-cluster] {failover.line()}")
    assert set(failover.failed_calls) <= {grpc.StatusCode.UNAVAILABLE.name}, failover.failed_calls
    assert failover.lost == 0, f"{failover.lost} readings lost\n{mesh.log_tail('ingest-writer')}"
    assert failover.duplicated == 0
    # The survivors lived through the rebalances (a writer used to die of aiokafka's "Partition is not
    # assigned" assertion when one took a partition away between its commit and its lag gauge).
    assert not failover.survivors_exited, mesh.log_tail("ingest-writer")
