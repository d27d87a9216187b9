"""A replicated Kafka cluster (three KRaft broker JVMs, replication factor 3, min.insync.replicas=2)
under ingest and the writer: the leader broker of a busy partition is SIGKILLed mid-stream and
restarted, and every reading is stored exactly once. The time to recover is measured and printed
(run with -s to see it), not asserted: this machine's load varies too much for a bound.

Then, with three writer processes (members of one consumer group), the leader broker and one writer
are SIGKILLed together mid-stream and both restarted: the dead member's partitions go to the survivors
at the rebalance while the partitions elect new leaders, and again nothing is lost.

A module of its own with a module-scoped stack: the rest of the suite keeps the single broker."""

import itertools
import threading
import time

import grpc
import psycopg
import pytest

from meters import kafka
from meters.ingest_client import register_meters, stream_readings
from tests.e2e.metrics import metric
from tests.e2e.own_stack import own_mesh
from tests.e2e.readings import interval_end, meters, readings

pytestmark = pytest.mark.infra

METERS, INTERVALS = 200, 4  # 800 readings a call, every partition (meter_id % 6) in each
BUSY_PARTITION = 0
HOURS = itertools.count()  # every call of the module its own past hour: no test re-sends another's readings
END = interval_end()  # the anchor the hours count back from


@pytest.fixture(scope="module")
def cluster_mesh():
    with own_mesh("kafka-cluster", "ingest", "ingest-writer", kafka_nodes=3) as (stack, mesh):
        with mesh.channel("ingest") as ch:
            register_meters(ch, meters(1, METERS))
        yield stack, mesh


class Stream:
    """StreamReadings calls one after another in a thread, each its own past hour (HOURS); a call that fails
    is sent again until it is acknowledged (as a head-end would), its failures counted by code."""

    def __init__(self, mesh):
        self.mesh = mesh
        self.acked: list[tuple[float, int]] = []  # (monotonic time acknowledged, batch number)
        self.failures: list[grpc.StatusCode] = []
        self.sent_readings = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Stream":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=600)

    def wait_acked(self, count: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.acked) < count and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.05)
        assert len(self.acked) >= count, f"only {len(self.acked)} calls acknowledged; failures {self.failures}"

    def _run(self) -> None:
        with self.mesh.channel("ingest") as ch:
            while not self._stop.is_set():
                batch_no = next(HOURS)
                cols = readings(1, METERS, INTERVALS, seed=batch_no, end=END - (batch_no + 1) * INTERVALS * 900)
                while True:
                    try:
                        reply = stream_readings(ch, [cols], batch_size=200)
                        assert reply.summary.accepted == len(cols), reply.summary
                        break
                    except grpc.RpcError as err:
                        self.failures.append(err.code())
                        time.sleep(0.2)
                self.sent_readings += len(cols)
                self.acked.append((time.monotonic(), batch_no))


def counts(db) -> tuple[int, int]:
    return db.execute("SELECT count(*), count(DISTINCT (meter_id, reading_time)) FROM meters.meter_readings"
                      " WHERE meter_id BETWEEN 1 AND %s", [METERS]).fetchone()


def wait_stored(db, expected: int, timeout_s: float = 180) -> tuple[int, int]:
    deadline = time.monotonic() + timeout_s
    while (got := counts(db))[0] < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return got


def wait_until(predicate, timeout_s: float = 120) -> float:
    """Seconds until `predicate()` held (polled every 0.1 s); fails after timeout_s."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout_s, "condition not met in time"
        time.sleep(0.1)
    return time.monotonic() - started


def test_topics_are_replicated_three_ways(cluster_mesh):
    stack, _ = cluster_mesh
    for partition in stack.kafka.partitions(kafka.READINGS_TOPIC):
        assert len(partition["replicas"]) == 3 and len(partition["isr"]) == 3, partition


def test_leader_broker_sigkilled_mid_stream_loses_and_duplicates_nothing(cluster_mesh):
    stack, mesh = cluster_mesh
    cluster = stack.kafka
    with psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        before = counts(db)[0]
        with Stream(mesh) as stream:
            stream.wait_acked(5)
            leader = cluster.leader_of(kafka.READINGS_TOPIC, BUSY_PARTITION)
            acked_at_kill = len(stream.acked)
            killed_at = time.monotonic()
            cluster.node(leader).kill()

            def other_leader() -> bool:
                try:
                    return cluster.leader_of(kafka.READINGS_TOPIC, BUSY_PARTITION) not in (leader, -1)
                except Exception:  # noqa: BLE001 - metadata from a node still starting up
                    return False

            failover_s = wait_until(other_leader)
            stream.wait_acked(acked_at_kill + 5)
            first_ack_s = next(t for t, _ in stream.acked[acked_at_kill:]) - killed_at
            gaps = [b - a for (a, _), (b, _) in zip(stream.acked, stream.acked[1:])]

            restarted_at = time.monotonic()
            cluster.node(leader).start()
            registered_s = time.monotonic() - restarted_at
            rejoined_s = registered_s + wait_until(lambda: all(
                leader in isr for isr in cluster.in_sync_replicas(kafka.READINGS_TOPIC).values()), 180)
            stream.wait_acked(len(stream.acked) + 5)
        sent = stream.sent_readings
        drain_started = time.monotonic()
        stored, distinct = wait_stored(db, before + sent)
        drained_s = time.monotonic() - drain_started

    print(f"\n[kafka-cluster] killed leader broker {leader} of partition {BUSY_PARTITION}:"
          f" new leader after {failover_s:.1f} s, first call acknowledged {first_ack_s:.1f} s after the kill,"
          f" longest gap between acknowledged calls {max(gaps):.1f} s; restarted broker registered in"
          f" {registered_s:.1f} s, back in every partition's ISR {rejoined_s:.1f} s after the restart;"
          f" {sent} readings in {len(stream.acked)} calls, {len(stream.failures)} failed calls re-sent"
          f" ({sorted({c.name for c in stream.failures})}); all stored {drained_s:.1f} s after the last call")
    assert set(stream.failures) <= {grpc.StatusCode.UNAVAILABLE}, stream.failures
    assert stored - before == sent, f"{sent - (stored - before)} readings lost\n{mesh.log_tail('ingest-writer')}"
    assert distinct == stored  # the primary key sees to it; counted to say so


def test_leader_broker_and_one_of_three_writers_sigkilled_together(cluster_mesh):
    """Three writer members; the leader broker of the busy partition and one writer die at the same
    moment: the group rebalances the dead member's partitions to the two survivors while the topic
    elects new leaders, then both come back."""
    stack, mesh = cluster_mesh
    cluster = stack.kafka
    extra, victim = ["ingest-writer#2", "ingest-writer#3"], "ingest-writer#3"
    writers = ["ingest-writer", *extra]
    stored_by = lambda name: metric(mesh, name, "meters_writer_readings_stored_total")  # noqa: E731
    mesh.start(*extra)
    try:
        with psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
            before = counts(db)[0]
            with Stream(mesh) as stream:
                # Every member owns partitions: each has stored readings of this stream.
                start = {name: stored_by(name) for name in writers}
                wait_until(lambda: all(stored_by(name) > start[name] for name in writers))
                leader = cluster.leader_of(kafka.READINGS_TOPIC, BUSY_PARTITION)
                killed_at = time.monotonic()
                cluster.node(leader).kill()
                mesh.kill(victim)
                time.sleep(1)
                # Readings acknowledged 1 s after the kills: some are on the dead member's partitions,
                # stored only once the group has rebalanced them to a survivor.
                target = before + stream.sent_readings
                caught_up_s = time.monotonic() - killed_at + wait_until(lambda: counts(db)[0] >= target, 180)
                restarted_at = time.monotonic()
                cluster.node(leader).start()
                mesh.start(victim)
                wait_until(lambda: all(leader in isr for isr in cluster.in_sync_replicas(kafka.READINGS_TOPIC).values()),
                           180)
                stream.wait_acked(len(stream.acked) + 5)
                stored_victim = stored_by(victim)
                wait_until(lambda: stored_by(victim) > stored_victim, 60)  # the restarted member got partitions back
                rejoined_s = time.monotonic() - restarted_at
            sent = stream.sent_readings
            stored, distinct = wait_stored(db, before + sent)
            survivors_exit = {name: mesh.procs[name].poll() for name in writers if name != victim}
    finally:
        mesh.stop(*extra)

    print(f"\n[kafka-cluster] SIGKILLed leader broker {leader} and {victim} of 3 writers together: readings"
          f" acknowledged 1 s after the kills all stored {caught_up_s:.1f} s after them (new leaders + the"
          f" rebalance to the two survivors); broker and writer restarted, back in every ISR and storing again"
          f" {rejoined_s:.1f} s after the restart; {sent} readings in {len(stream.acked)} calls,"
          f" {len(stream.failures)} failed calls re-sent ({sorted({c.name for c in stream.failures})})")
    # The survivors lived through the rebalances (a writer used to die of aiokafka's "Partition is not
    # assigned" assertion when one took a partition away between its commit and its lag gauge).
    assert set(survivors_exit.values()) == {None}, mesh.log_tail("ingest-writer")
    assert set(stream.failures) <= {grpc.StatusCode.UNAVAILABLE}, stream.failures
    assert stored - before == sent, f"{sent - (stored - before)} readings lost\n{mesh.log_tail('ingest-writer')}"
    assert distinct == stored
