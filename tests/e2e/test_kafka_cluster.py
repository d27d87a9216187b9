"""A replicated Kafka cluster (three KRaft broker JVMs, replication factor 3, min.insync.replicas=2)
under ingest and the writer: the leader broker of a busy partition is SIGKILLed mid-stream and
restarted, and every reading is stored exactly once. Then, with three writer processes (members of
one consumer group), the leader broker and one writer are SIGKILLed together mid-stream and both
restarted: the dead member's partitions go to the survivors at the rebalance while the partitions
elect new leaders, and again nothing is lost. Last, the scorer: the leader broker and the scoring
process killed while planted voltage sags stream in, and each sag raises its alert once. The scenarios are meters/kafka_failover.py, which
bench/kafka_failover.py times; the times are printed here (run with -s), not asserted: this
machine's load varies too much for a bound.

A module of its own with a module-scoped stack: the rest of the suite keeps the single broker."""

import time

import grpc
import numpy as np
import pytest

from meters import kafka
from meters.alert.v1 import alert_pb2, alert_service_pb2, alert_service_pb2_grpc
from meters.deadlines import CALL_S
from meters.ingest_client import register_meters, stream_readings
from meters.kafka_failover import broker_and_writer_kill, broker_kill
from meters.ml_jobs import MlJob
from meters.model_registry import ModelRegistry
from meters.scoring.v1 import prediction_pb2, scoring_service_pb2 as pb, scoring_service_pb2_grpc
from scoring_svc import training
from tests.e2e.metrics import metric
from tests.e2e.own_stack import own_mesh
from tests.e2e.readings import interval_end, meters, readings
from tests.e2e.test_scoring import topology
from tests.grpc_helpers import wait_for

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


SCORED_FIRST, SCORED_METERS, SCORED_TX = 300_001, 20, 9_001


def test_alerts_raised_once_through_a_broker_and_scorer_kill(cluster_mesh, tmp_path_factory):
    """A day of readings for 20 meters, one 195 V sag on each of 10 of them, streamed while the leader
    broker of the busy partition and the scoring process (the scorer's consumer group) are SIGKILLed;
    both restarted, the scorer replays what it had not committed: one sag alert per meter, raised
    once (one occurrence), and one anomaly prediction per sag."""
    stack, mesh, ch = cluster_mesh
    registry = tmp_path_factory.mktemp("cluster-registry")
    training.train(MlJob(ModelRegistry(registry), tmp_path_factory.mktemp("cluster-reports"), quick=True))
    env = {"METERS_MODEL_REGISTRY": str(registry)}
    mesh.start("alert", "scoring", env=env)
    try:
        with mesh.channel("scoring") as sch, mesh.channel("alert") as ach:
            scoring = scoring_service_pb2_grpc.ScoringServiceStub(sch)
            alerts = alert_service_pb2_grpc.AlertServiceStub(ach)
            topology(scoring, ch, SCORED_FIRST, SCORED_TX, SCORED_METERS)
            cols = readings(SCORED_FIRST, SCORED_METERS, 96, seed=21, end=END - 2 * 365 * DAY_SLOTS * 900)
            sagged = list(range(SCORED_FIRST, SCORED_FIRST + SCORED_METERS, 2))
            sags = {}
            for meter in sagged:  # in the day's last quarter, after the history the model looks back on
                i = np.flatnonzero(cols.meter_ids == meter)[80 + (meter % 12)]
                cols.voltage_v[i] = 195.0
                cols.current_a[i] = cols.demand_kw[i] * 1000 / (195.0 * cols.power_factor[i])
                sags[meter] = int(cols.reading_times_unix_s[i])
            order = np.argsort(cols.reading_times_unix_s, kind="stable")  # the day in time order, as a head-end sends
            calls = [cols.take(order[a:a + 160]) for a in range(0, len(order), 160)]  # 8 intervals a call

            leader = stack.kafka.leader_of(kafka.READINGS_TOPIC, 0)
            for n, part in enumerate(calls):
                if n == len(calls) * 3 // 4:  # just before the sags
                    stack.kafka.node(leader).kill()
                    mesh.kill("scoring")
                stream_readings(ch, [part], batch_size=160)
            stack.kafka.node(leader).start()
            mesh.start("scoring", env=env)

            def sag_alerts() -> dict[int, list]:
                found = {}
                for meter in sagged:
                    found[meter] = [a for a in alerts.ListAlerts(alert_service_pb2.ListAlertsRequest(
                        asset_type=alert_pb2.ASSET_TYPE_SMART_METER, asset_id=meter), timeout=CALL_S).alerts
                        if a.labels.get("anomaly_type") == "voltage_sag"]
                return found

            raised = wait_for(lambda: (got := sag_alerts()) and all(got.values()) and got, 300)
            time.sleep(5)  # anything raised twice would be raised by now
            raised = sag_alerts()
            scorer_log = mesh.log_tail("scoring")
            scored = metric(mesh, "scoring", "meters_scoring_readings_scored_total")
            predictions = {meter: [p for p in scoring.ListPredictions(pb.ListPredictionsRequest(
                asset_type=alert_pb2.ASSET_TYPE_SMART_METER, asset_id=meter,
                prediction_type=prediction_pb2.PREDICTION_TYPE_READING_ANOMALY), timeout=CALL_S).predictions
                if p.predicted_at.seconds == sags[meter]] for meter in sagged}
    finally:
        mesh.stop("alert", "scoring")
    assert all(len(found) == 1 for found in raised.values()), f"{raised}; {scored} scored since the restart\n{scorer_log}"
    assert all(found[0].occurrences == 1 for found in raised.values()), raised
    assert all(len(found) == 1 for found in predictions.values()), predictions
