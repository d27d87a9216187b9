"""A 3-node Kafka cluster (KRaft) on loopback: three JVMs, each a combined broker + controller with
ports and a log dir of its own, one cluster id, a quorum of the three; replication factor 3 and
min.insync.replicas=2 for the internal topics (and meters.kafka.ensure_topics' topics).

For the tests that kill a broker: `leader_of(topic, partition)` names the node to SIGKILL,
`node(id).kill()` / `.start()` crash and restart it. Each JVM gets a smaller heap than the single
node (MET_KAFKA_CLUSTER_HEAP, 384m) so that three fit beside PostgreSQL and the mesh on a small box.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from meters.localstack.common import LOOPBACK, PortTaken, free_port
from meters.localstack.kafka import LocalKafka, _run_async, new_cluster_id

HEAP = os.environ.get("MET_KAFKA_CLUSTER_HEAP", "384m")


class LocalKafkaCluster:
    def __init__(self, base_dir: Path, nodes: int = 3, heap: str = HEAP):
        self.base_dir = Path(base_dir).resolve()
        self.count = nodes
        self.heap = heap
        self.nodes: list[LocalKafka] = []
        self._make_nodes(new_cluster_id())

    def _make_nodes(self, cluster_id: str) -> None:
        ports = [(free_port(), free_port()) for _ in range(self.count)]
        voters = ",".join(f"{i}@{LOOPBACK}:{controller}" for i, (_, controller) in enumerate(ports, 1))
        self.nodes = [LocalKafka(self.base_dir / f"kafka-{i}", port, controller, node_id=i, voters=voters,
                                 cluster_id=cluster_id, replicas=min(3, self.count), heap=self.heap)
                      for i, (port, controller) in enumerate(ports, 1)]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def node(self, node_id: int) -> LocalKafka:
        return self.nodes[node_id - 1]

    def start(self) -> "LocalKafkaCluster":
        """Every node launched at once (none is ready before a majority of the quorum runs), then
        each waited for. Ports lost to another process between picking and binding: new ones, twice."""
        for attempt in range(3):
            try:
                return self._start_all()
            except PortTaken:
                self.stop()
                if attempt == 2 or any((n.data_dir / "meta.properties").exists() for n in self.nodes):
                    raise
                self._make_nodes(new_cluster_id())
        raise AssertionError("unreachable")

    def _start_all(self) -> "LocalKafkaCluster":
        launched = [node for node in self.nodes if node.launch()]
        with ThreadPoolExecutor(len(self.nodes), thread_name_prefix="kafka-node") as pool:
            errors = [e for e in pool.map(_error_of, [n.wait_started for n in launched]) if e]
        if errors:
            self.stop()
            raise next((e for e in errors if isinstance(e, PortTaken)), errors[0])
        return self

    def stop(self, timeout: float = 30) -> None:
        with ThreadPoolExecutor(len(self.nodes), thread_name_prefix="kafka-node") as pool:
            list(pool.map(lambda n: n.stop(timeout), self.nodes))

    def is_running(self) -> bool:
        return all(node.is_running() for node in self.nodes)

    def leader_of(self, topic: str, partition: int) -> int:
        """The node id leading `topic`'s `partition` now (-1 while it has none)."""
        return next(p["leader"] for p in self.partitions(topic) if p["partition"] == partition)

    def in_sync_replicas(self, topic: str) -> dict[int, list[int]]:
        """Each partition of `topic`: the node ids of its in-sync replicas."""
        return {p["partition"]: sorted(p["isr"]) for p in self.partitions(topic)}

    def partitions(self, topic: str) -> list[dict]:
        """`topic`'s partitions as the cluster's metadata describes them (partition, leader, replicas, isr)."""
        return _run_async(self._partitions(topic))

    async def _partitions(self, topic: str) -> list[dict]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([topic])
            return described["partitions"]
        finally:
            await admin.close()


def _error_of(call) -> BaseException | None:
    try:
        call()
    except BaseException as e:  # noqa: BLE001 - collected and re-raised by the caller
        return e
    return None
