"""A Kafka + PostgreSQL + mesh of a test's own, in a temporary directory.

For tests that kill a server, change a service's limits, or must count every row: the mesh of the
session shares its broker with every other mesh started on it (the same topics and writer group),
so its databases are not one test's alone.
"""

import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from meters.localstack.stack import LocalStack
from meters.mesh import Mesh


@contextmanager
def own_mesh(prefix: str, *services: str, env: dict[str, str] | None = None, kafka_nodes: int = 1):
    """(stack, mesh) with `services` started; `env` is added to every service's environment;
    kafka_nodes=3 gives a replicated 3-broker Kafka cluster instead of the single broker."""
    with tempfile.TemporaryDirectory(prefix=f"meters-{prefix}-") as tmp, pytest.MonkeyPatch.context() as mp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        with LocalStack(Path(tmp) / "stack", kafka_nodes=kafka_nodes) as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn,
                                                            stack.kafka_bootstrap) as mesh:
            mesh.start(*services)
            yield stack, mesh
