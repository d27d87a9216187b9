"""PostgreSQL and Kafka together: started in parallel, stopped together."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from meters.localstack.common import PortTaken, free_port
from meters.localstack.kafka import LocalKafka
from meters.localstack.kafka_cluster import LocalKafkaCluster
from meters.localstack.postgres import LocalPostgres


class LocalStack:
    """`with LocalStack(dir) as s:` gives s.pg_dsn and s.kafka_bootstrap. Ports default to free ones.
    kafka_nodes=3: a replicated Kafka cluster of three nodes (kafka_cluster.LocalKafkaCluster, on free
    ports) instead of the single node."""

    def __init__(self, base_dir: Path, pg_port: int | None = None, kafka_port: int | None = None,
                 kafka_controller_port: int | None = None, kafka_nodes: int = 1):
        self.base_dir = Path(base_dir).resolve()
        self._auto_ports = pg_port is None and kafka_port is None and kafka_controller_port is None
        self.postgres = LocalPostgres(self.base_dir / "postgres", pg_port or free_port())
        self.kafka: LocalKafka | LocalKafkaCluster = (
            LocalKafka(self.base_dir / "kafka", kafka_port or free_port(), kafka_controller_port)
            if kafka_nodes == 1 else LocalKafkaCluster(self.base_dir / "kafka", kafka_nodes))

    @property
    def pg_dsn(self) -> str:
        return self.postgres.dsn

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap

    def start(self) -> "LocalStack":
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir.chmod(0o755)  # the postgres OS user must reach its data dir
        for attempt in range(3):
            with ThreadPoolExecutor(2, thread_name_prefix="localstack") as pool:
                futures = [pool.submit(self.postgres.start), pool.submit(self.kafka.start)]
                errors = [e for e in (f.exception() for f in futures) if e]
            if not errors:
                return self
            self.stop()
            # Ports we picked ourselves can be lost to a concurrent process: pick new ones and retry.
            if not (self._auto_ports and attempt < 2 and all(isinstance(e, PortTaken) for e in errors)):
                raise errors[0]
            self.postgres.port = free_port()
            if isinstance(self.kafka, LocalKafka):  # a cluster picks new ports of its own
                self.kafka.port, self.kafka.controller_port = free_port(), free_port()
        raise AssertionError("unreachable")

    def stop(self) -> None:
        with ThreadPoolExecutor(2, thread_name_prefix="localstack") as pool:
            futures = [pool.submit(self.kafka.stop), pool.submit(self.postgres.stop)]
            errors = [f.exception() for f in futures]
        if any(errors):
            raise next(e for e in errors if e)

    def is_running(self) -> dict[str, bool]:
        return {"postgres": self.postgres.is_running(), "kafka": self.kafka.is_running()}

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
