"""Real PostgreSQL and Kafka for tests marked `infra`: started once per session, on free loopback ports.

MET_TEST_STACK=running reuses the stack of `python -m meters.localstack up` (same env vars) instead,
and leaves it running: saves the few seconds of start-up per run while iterating.

Fixtures: local_stack, pg_dsn, kafka_bootstrap (session); fresh_db (a database of its own per
test, dropped after), topic_prefix (unique topic names per test).
"""

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest

from meters.localstack import orphans
from meters.localstack.__main__ import stack_from_env
from meters.localstack.stack import LocalStack
from tests.tools import (  # noqa: F401 (fixtures for every test)
    alertmanager_installed,
    prometheus_installed,
    promtool_installed,
)


@pytest.fixture(scope="session")
def local_stack():
    if os.environ.get("MET_TEST_STACK") == "running":
        stack = stack_from_env()
        if not all(stack.is_running().values()):
            pytest.exit("MET_TEST_STACK=running but the stack is not up: python -m meters.localstack up", 2)
        yield stack
        return
    orphans.reap()  # stacks left running by sessions that were killed before their teardown
    base = Path(tempfile.mkdtemp(prefix="meters-stack-", dir="/tmp"))
    base.chmod(0o755)  # the postgres OS user must reach its data dir
    orphans.claim(base)
    stack = LocalStack(base)
    try:
        stack.start()
        yield stack
    finally:
        try:
            stack.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_dsn(local_stack) -> str:
    return local_stack.pg_dsn


@pytest.fixture(scope="session")
def kafka_bootstrap(local_stack) -> str:
    return local_stack.kafka_bootstrap


@pytest.fixture
def fresh_db(local_stack):
    """DSN of an empty database made for this test alone, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin_dsn = local_stack.postgres.dsn_for("postgres")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield local_stack.postgres.dsn_for(name)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def topic_prefix() -> str:
    """A prefix that makes this test's topic and group names its own, e.g. 't3f9a1c2-readings'."""
    return f"t{uuid.uuid4().hex[:8]}-"
