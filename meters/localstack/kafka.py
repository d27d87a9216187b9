"""A Kafka node (KRaft, broker + controller in one JVM) on loopback, from Maven Central jars: a
single-node cluster by default, or one node of a kafka_cluster.LocalKafkaCluster."""

import asyncio
import base64
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from meters.localstack import cds
from meters.localstack.common import (LOOPBACK, PortTaken, StartError, cmdline, free_port, pid_alive, port_open,
                                      port_taken_in, signal_pid)

KAFKA_VERSION = os.environ.get("MET_KAFKA_VERSION", "4.4.0")
LOG4J_VERSION = "2.25.5"  # the log4j-core that kafka_2.13 4.4.0 brings; the slf4j binding must match it
SLF4J_VERSION = "2.0.17"
HEAP = os.environ.get("MET_KAFKA_HEAP", "512m")
START_TIMEOUT_S = 120

POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.meters</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>{LOG4J_VERSION}</version></dependency>
  </dependencies>
  <dependencyManagement><dependencies>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>{SLF4J_VERSION}</version></dependency>
  </dependencies></dependencyManagement>
</project>
"""

LOG4J2 = """status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
"""

_jar_lock = threading.Lock()


def cache_dir() -> Path:
    root = Path(os.environ.get("MET_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "meters")
    return root / f"kafka-{KAFKA_VERSION}"


def ensure_kafka_jars() -> Path:
    """The directory of the broker's jars, fetched once with Maven into ~/.cache/meters/kafka-VERSION/libs.

    A file lock serialises concurrent first runs (two test sessions, say); the jars land in a
    temporary directory renamed into place when complete, so a broker never sees a partial set.
    """
    libs = cache_dir() / "libs"
    if (libs / ".complete").exists():
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with _jar_lock, open(libs.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (libs / ".complete").exists():
            return libs
        if shutil.which("mvn") is None:
            raise RuntimeError("Maven (mvn) is needed to fetch the Kafka broker jars")
        print(f"[localstack] fetching Kafka {KAFKA_VERSION} jars from Maven Central into {libs} (once)...",
              file=sys.stderr, flush=True)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=libs.parent, prefix=".fetch-") as tmp:
            (Path(tmp) / "pom.xml").write_text(POM)
            out = Path(tmp) / "libs"
            r = subprocess.run(["mvn", "-B", "-q", "-f", str(Path(tmp) / "pom.xml"), "dependency:copy-dependencies",
                                "-DincludeScope=runtime", f"-DoutputDirectory={out}"],
                               capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if r.returncode != 0 or not any(out.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
                raise RuntimeError(f"mvn could not fetch the Kafka jars (exit {r.returncode}):\n"
                                   f"{(r.stdout + r.stderr)[-4000:]}")
            (out / ".complete").write_text(KAFKA_VERSION)
            shutil.rmtree(libs, ignore_errors=True)  # an incomplete leftover; we hold the lock
            out.rename(libs)
        print(f"[localstack] Kafka jars ready ({len(list(libs.glob('*.jar')))} jars, "
              f"{time.monotonic() - started:.1f}s)", file=sys.stderr, flush=True)
        return libs


def _run_async(coro):
    """Run a coroutine to completion from sync code, even when this thread already runs a loop."""
    result: dict = {}

    def target():
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as e:  # re-raised in the caller's thread
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


class NotReady(Exception):
    pass


def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class LocalKafka:
    """One KRaft node. Alone (the defaults) it is its own quorum and keeps one replica of everything;
    in a cluster, `voters` names every node's controller port ("1@host:port,2@..."), `cluster_id` is
    shared and `replicas` (3) sets the internal topics' replication and min.insync.replicas=2."""

    def __init__(self, base_dir: Path, port: int, controller_port: int | None = None, node_id: int = 1,
                 voters: str | None = None, cluster_id: str | None = None, replicas: int = 1,
                 heap: str = HEAP):
        self.base_dir = Path(base_dir).resolve()
        self.port = port
        self.controller_port = controller_port or free_port()
        self.node_id = node_id
        self.voters = voters
        self.cluster_id = cluster_id
        self.replicas = replicas
        self.heap = heap
        self.data_dir = self.base_dir / "data"
        self.log_file = self.base_dir / "kafka.log"
        self.pid_file = self.base_dir / "kafka.pid"
        self.config_file = self.base_dir / "server.properties"
        self._proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def _properties(self) -> str:
        rf, isr = self.replicas, min(2, self.replicas)
        return "\n".join([
            "process.roles=broker,controller",
            f"node.id={self.node_id}",
            f"controller.quorum.voters={self.voters or f'{self.node_id}@{LOOPBACK}:{self.controller_port}'}",
            f"listeners=PLAINTEXT://{LOOPBACK}:{self.port},CONTROLLER://{LOOPBACK}:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://{LOOPBACK}:{self.port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.data_dir}",
            "num.partitions=6",
            f"default.replication.factor={rf}",
            f"min.insync.replicas={isr}",
            f"offsets.topic.replication.factor={rf}",
            "offsets.topic.num.partitions=6",
            f"transaction.state.log.replication.factor={rf}",
            f"transaction.state.log.min.isr={isr}",
            "transaction.state.log.num.partitions=6",
            f"share.coordinator.state.topic.replication.factor={rf}",
            f"share.coordinator.state.topic.min.isr={isr}",
            "group.initial.rebalance.delay.ms=0",
            # After a crash the restarted broker cannot register until its previous session expires
            # (default 9 s); 4 s keeps crash-restart tests quick and still tolerates GC or CPU stalls.
            "broker.session.timeout.ms=4000",
            "broker.heartbeat.interval.ms=500",
            "message.max.bytes=10485760",
            # Topics are created explicitly (meters.kafka.ensure_topics), with their partition counts;
            # a typo'd or forgotten topic fails loudly instead of appearing with defaults.
            f"auto.create.topics.enable={os.environ.get('MET_KAFKA_AUTO_CREATE', 'false')}",
            "log.retention.hours=24",
            "",
        ])

    def _java(self, main: str, *args: str, jvm: tuple[str, ...] = ()) -> list[str]:
        libs = ensure_kafka_jars()
        java = shutil.which("java")
        if java is None:
            raise StartError("no java on PATH: Kafka needs a JDK 17+ (apt-get install openjdk-17-jre-headless)",
                             self.log_file)
        return [java, *jvm, f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true", "-Dlog4j2.shutdownHookEnabled=false",
                f"-Dlog4j2.configurationFile={self.base_dir / 'log4j2.properties'}",
                "-cp", f"{libs}/*", main, *args]

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        # Guard against a recycled pid: it must be our broker, on our config.
        if pid_alive(pid) and "kafka.Kafka" in cmdline(pid) and str(self.config_file) in cmdline(pid):
            return pid
        return None

    def is_running(self) -> bool:
        return self._pid() is not None

    def _format(self) -> None:
        # "--cluster-id=ID" in one argument: an id may start with "-", which argparse takes for an option.
        cluster_id = self.cluster_id or new_cluster_id()
        with open(self.log_file, "a") as log:
            r = subprocess.run(self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                                          "-c", str(self.config_file),
                                          jvm=tuple(cds.use_args(ensure_kafka_jars()))),
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise StartError(f"kafka StorageTool format failed (exit {r.returncode})", self.log_file)

    def start(self) -> "LocalKafka":
        """Launch the JVM and wait until this node is a registered broker (a cluster node needs a
        majority of the quorum up for that: kafka_cluster starts them all with launch() first)."""
        if self.launch():
            self.wait_started()
        else:
            self._wait_ready()
        return self

    def launch(self) -> bool:
        """Start the JVM without waiting for it; False when it was already running."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.is_running():
            return False
        if port_open(self.port):
            raise PortTaken(f"port {self.port} is already taken by another process", self.log_file)
        self.config_file.write_text(self._properties())
        (self.base_dir / "log4j2.properties").write_text(LOG4J2)
        if not (self.data_dir / "meta.properties").exists():
            self._format()
        log = open(self.log_file, "a")
        try:
            # A session of its own: a Ctrl-C in the terminal is not the broker's to handle; stop() is.
            jvm = tuple(cds.jvm_args(ensure_kafka_jars(), self.base_dir))
            self._proc = subprocess.Popen(self._java("kafka.Kafka", str(self.config_file), jvm=jvm), stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        self.pid_file.write_text(str(self._proc.pid))
        return True

    def wait_started(self) -> None:
        """Until ready; a node that does not get there is stopped and the error says why."""
        try:
            self._wait_ready()
        except Exception as e:
            self.stop()
            if port_taken_in(self.log_file):
                raise PortTaken(f"Kafka could not bind port {self.port} or its controller port {self.controller_port}",
                                self.log_file) from e
            if isinstance(e, StartError):
                raise
            raise StartError(f"Kafka did not become ready on {self.bootstrap}: {e!r}", self.log_file) from e

    def _wait_ready(self) -> None:
        @retry(stop=stop_after_delay(START_TIMEOUT_S), wait=wait_exponential(multiplier=0.1, max=1),
               retry=retry_if_exception_type(NotReady), reraise=True)
        def poll():
            if self._proc is not None and self._proc.poll() is not None:
                raise StartError(f"Kafka exited with code {self._proc.returncode}", self.log_file)
            if not port_open(self.port):
                raise NotReady("port closed")
            try:
                if not _run_async(self._broker_registered()):
                    raise NotReady("no broker in metadata")
            except NotReady:
                raise
            except Exception as e:
                raise NotReady(repr(e)) from e

        poll()

    async def _broker_registered(self) -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            cluster = await admin.describe_cluster()
            return any(b["node_id"] == self.node_id for b in cluster.get("brokers", ()))
        finally:
            await admin.close()

    @staticmethod
    @retry(stop=stop_after_delay(30), wait=wait_exponential(multiplier=0.05, max=0.5),
           retry=retry_if_exception_type(NotReady), reraise=True)
    async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str]) -> None:
        """Until every partition has a leader, so that a producer's first send does not bounce."""
        for topic in await admin.describe_topics(names):
            if topic["error_code"] or not topic["partitions"] or any(
                    p["error_code"] or p["leader"] < 0 for p in topic["partitions"]):
                raise NotReady(f"topic {topic['topic']} has no leader for every partition yet")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL if it is still up after `timeout` seconds."""
        pid = self._pid()
        if pid is None and self._proc is not None and self._proc.poll() is None:
            pid = self._proc.pid
        if pid is not None:
            signal_pid(pid, signal.SIGTERM)
            if not self._wait_exit(pid, timeout):
                signal_pid(pid, signal.SIGKILL)
                self._wait_exit(pid, 10)
        self._proc = None
        self.pid_file.unlink(missing_ok=True)
        cds.adopt(self.base_dir, ensure_kafka_jars())

    def kill(self) -> None:
        """SIGKILL, no clean shutdown: for crash-recovery tests."""
        pid = self._pid()
        if pid is not None:
            signal_pid(pid, signal.SIGKILL)
            self._wait_exit(pid, 10)
        self._proc = None

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                try:
                    self._proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                    return True
                except subprocess.TimeoutExpired:
                    return False
            if not pid_alive(pid):
                return True
            time.sleep(0.1)
        return not pid_alive(pid)

    def create_topics(self, names_with_partitions: dict[str, int], configs: dict[str, str] | None = None) -> None:
        """Create topics (one replica on each of `replicas` nodes); existing ones are left as they are."""
        _run_async(self._create_topics(names_with_partitions, configs or {}))

    async def _create_topics(self, topics: dict[str, int], configs: dict[str, str]) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            for name, partitions in topics.items():
                try:
                    resp = await admin.create_topics([NewTopic(name, partitions, self.replicas, topic_configs=configs)])
                except TopicAlreadyExistsError:
                    continue
                for topic_name, code, *rest in getattr(resp, "topic_errors", []):
                    if code not in (0, TopicAlreadyExistsError.errno):
                        raise RuntimeError(f"creating topic {topic_name} failed: error {code} {rest}")
            await self._wait_for_leaders(admin, list(topics))
        finally:
            await admin.close()
