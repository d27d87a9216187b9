"""Node failures under a steady ingest stream on the replicated Kafka cluster (issue 16), measured:
for the fault tests (tests/e2e/test_kafka_cluster.py) and their benchmark (bench/kafka_failover.py).

`broker_kill`: the leader broker of a busy partition SIGKILLed mid-stream, restarted once the
partition has a new leader. `broker_and_writer_kill`: the same broker and one member of the writer
group SIGKILLed at the same moment, both restarted. The stream (meters.ingest_feed.Feed) re-sends a
failed call until it is acknowledged, as a head-end does; afterwards every acknowledged batch is
counted in PostgreSQL by its reading time: lost and duplicated readings, and how long each step of
the recovery took.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import psycopg

from meters import kafka
from meters.ingest_feed import Feed
from meters.ingest_load import slot_time
from meters.localstack.kafka_cluster import LocalKafkaCluster
from meters.mesh import Mesh
from meters.scrape import metric

STORED = "meters_writer_readings_stored_total"
BUSY_PARTITION = 0


@dataclass
class Failover:
    what: str  # what was killed
    new_leader_s: float  # from the kill until the busy partition had another leader
    first_ack_s: float  # from the kill until the next call was acknowledged
    longest_gap_s: float  # the longest wait between two acknowledged calls
    caught_up_s: float  # from the kill until everything acknowledged 1 s after it was stored
    rejoined_s: float  # from the restart until the broker was in every ISR (and a restarted writer stored)
    acknowledged: int  # readings
    failed_calls: list[str]  # status codes of calls that failed and were re-sent
    lost: int
    duplicated: int
    survivors_exited: list[str]  # writer members that died without being killed

    def line(self) -> str:
        return (f"SIGKILLed {self.what}: new leader after {self.new_leader_s:.1f} s, first call acknowledged"
                f" {self.first_ack_s:.1f} s after the kill (longest gap {self.longest_gap_s:.1f} s), everything"
                f" acknowledged 1 s after it stored {self.caught_up_s:.1f} s after it; restarted and back"
                f" {self.rejoined_s:.1f} s after the restart; {self.acknowledged} readings,"
                f" {len(self.failed_calls)} failed calls re-sent {sorted(set(self.failed_calls))};"
                f" lost {self.lost}, duplicated {self.duplicated}")


def broker_kill(cluster: LocalKafkaCluster, mesh: Mesh, ch: grpc.Channel, first_meter_id: int, meters: int,
                end_unix_s: int) -> Failover:
    return _through(cluster, mesh, ch, first_meter_id, meters, end_unix_s, ["ingest-writer"], victim=None)


def broker_and_writer_kill(cluster: LocalKafkaCluster, mesh: Mesh, ch: grpc.Channel, first_meter_id: int,
                           meters: int, end_unix_s: int, writers: int = 3) -> Failover:
    """With `writers` members of the writer group (started here, the further ones stopped at the end)."""
    names = ["ingest-writer", *(f"ingest-writer#{i}" for i in range(2, writers + 1))]
    mesh.start(*names[1:])
    try:
        return _through(cluster, mesh, ch, first_meter_id, meters, end_unix_s, names, victim=names[-1])
    finally:
        mesh.stop(*names[1:])


def _through(cluster: LocalKafkaCluster, mesh: Mesh, ch: grpc.Channel, first_meter_id: int, meters: int,
             end_unix_s: int, writers: list[str], victim: str | None) -> Failover:
    topic = kafka.READINGS_TOPIC
    with psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        feed = Feed(ch, first_meter_id, meters, end_unix_s, every_s=0.05, resend_failed=True).start()
        try:
            start = {w: metric(mesh, w, STORED) for w in writers}
            wait_until(lambda: all(metric(mesh, w, STORED) > start[w] for w in writers))  # every member owns some
            leader = cluster.leader_of(topic, BUSY_PARTITION)
            acked_at_kill = len(feed.acknowledged)
            killed_at = time.monotonic()
            cluster.node(leader).kill()
            if victim:
                mesh.kill(victim)
            new_leader_s = wait_until(lambda: _leader_other_than(cluster, topic, leader))
            wait_until(lambda: len(feed.acknowledged) >= acked_at_kill + 10)
            first_ack_s = feed.acknowledged[acked_at_kill][0] - killed_at
            target = len(feed.batches_between(0, killed_at + 1)) * meters
            caught_up_s = time.monotonic() - killed_at + wait_until(lambda: _stored(db, feed) >= target, 180)

            restarted_at = time.monotonic()
            cluster.node(leader).start()
            if victim:
                mesh.start(victim)
            wait_until(lambda: all(leader in isr for isr in cluster.in_sync_replicas(topic).values()), 180)
            if victim:
                wait_until(lambda: metric(mesh, victim, STORED) > 0, 60)  # the restarted member got partitions back
            rejoined_s = time.monotonic() - restarted_at
            recovered = len(feed.acknowledged)
            wait_until(lambda: len(feed.acknowledged) >= recovered + 10)  # a few calls after the recovery
        finally:
            feed.stop()
        expected = feed.expected_per_slot()
        wait_until(lambda: _stored(db, feed) >= sum(expected.values()), 180)
        stored = _stored_per_slot(db, feed)
    acked = [t for t, _ in feed.acknowledged]
    return Failover(
        what=f"leader broker {leader}" + (f" and {victim} of {len(writers)} writers together" if victim else ""),
        new_leader_s=new_leader_s, first_ack_s=first_ack_s,
        longest_gap_s=max(b - a for a, b in zip(acked, acked[1:])), caught_up_s=caught_up_s, rejoined_s=rejoined_s,
        acknowledged=sum(expected.values()), failed_calls=[e.split(":")[0] for e, _ in feed.errors],
        lost=sum(max(0, n - stored.get(t, 0)) for t, n in expected.items()),
        duplicated=sum(max(0, n - expected.get(t, 0)) for t, n in stored.items()),
        survivors_exited=[w for w in writers if w != victim and mesh.procs[w].poll() is not None])


def _leader_other_than(cluster: LocalKafkaCluster, topic: str, leader: int) -> bool:
    try:
        return cluster.leader_of(topic, BUSY_PARTITION) not in (leader, -1)
    except Exception:  # noqa: BLE001 - metadata from a node still starting up
        return False


def _slots(feed: Feed) -> tuple[int, int]:
    """The reading times of the batches the feed has sent (acknowledged or failed), oldest first."""
    last = max([k for _, k in feed.acknowledged] + [k for _, group in feed.errors for k in group])
    return slot_time(feed.end_unix_s, last), slot_time(feed.end_unix_s, 0)


def _stored(db, feed: Feed) -> int:
    return sum(_stored_per_slot(db, feed).values())


def _stored_per_slot(db, feed: Feed) -> dict[int, int]:
    lo, hi = _slots(feed)
    return dict(db.execute("SELECT extract(epoch FROM reading_time)::int8, count(*) FROM meters.meter_readings"
                           " WHERE meter_id BETWEEN %s AND %s AND reading_time BETWEEN to_timestamp(%s)"
                           " AND to_timestamp(%s) GROUP BY 1",
                           [feed.first_meter_id, feed.first_meter_id + feed.meters - 1, lo, hi]).fetchall())


def wait_until(predicate: Callable[[], bool], timeout_s: float = 120) -> float:
    """Seconds until `predicate()` held (polled every 0.1 s); fails after timeout_s."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError("condition not met in time")
        time.sleep(0.1)
    return time.monotonic() - started
