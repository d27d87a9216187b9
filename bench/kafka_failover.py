"""Recovery on the replicated Kafka cluster (issue 16): a 3-broker KRaft cluster on loopback under a
steady ingest stream; the leader broker of a busy partition SIGKILLed and restarted, then the same
with one of three writer members killed at the same moment (meters/kafka_failover.py, the scenarios
tests/e2e/test_kafka_cluster.py asserts on).

Figures per scenario (`kafka_broker_kill_*`, `kafka_broker_writer_kill_*`): new_leader_s (kill ->
another leader for the partition), first_ack_s (kill -> the next acknowledged call), caught_up_s
(kill -> everything acknowledged 1 s after it stored), rejoined_s (restart -> broker back in every
ISR and the restarted writer storing), lost, duplicated.
"""

import tempfile
from pathlib import Path

from meters.ingest_client import register_meters
from meters.kafka_failover import broker_and_writer_kill, broker_kill
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh
from tests.e2e.readings import interval_end, meters

METERS = 200


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-kafka-failover-") as tmp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        with LocalStack(Path(tmp) / "stack", kafka_nodes=3) as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn,
                                                                           stack.kafka_bootstrap) as mesh:
            mesh.start("ingest", "ingest-writer")
            with mesh.channel("ingest") as ch:
                register_meters(ch, meters(1, METERS))
                end = interval_end()
                for name, scenario, scenario_end in (("broker_kill", broker_kill, end),
                                                     ("broker_writer_kill", broker_and_writer_kill, end - 365 * 86_400)):
                    failover = scenario(stack.kafka, mesh, ch, 1, METERS, scenario_end)
                    print(f"   {failover.line()}", flush=True)
                    for key in ("new_leader_s", "first_ack_s", "caught_up_s", "rejoined_s"):
                        figures[f"kafka_{name}_{key}"] = round(getattr(failover, key), 1)
                    figures[f"kafka_{name}_lost"] = failover.lost
                    figures[f"kafka_{name}_duplicated"] = failover.duplicated
    return figures
