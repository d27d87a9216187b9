"""The running mesh (real services as processes) over the harness's Kafka and PostgreSQL."""

import uuid

import psycopg
import pytest

from meters.mesh import SERVICES, Mesh
from tests.rest import RestGateway


@pytest.fixture(scope="session")
def mesh_db(pg_dsn):
    """A database of its own for the mesh tests."""
    name = f"mesh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_dsn.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def mesh(mesh_db, kafka_bootstrap, tmp_path_factory):
    with Mesh(tmp_path_factory.mktemp("mesh"), mesh_db, kafka_bootstrap) as m:
        m.start("ingest", "ingest-writer")
        yield m


@pytest.fixture(scope="session")
def ingest_channel(mesh):
    with mesh.channel("ingest") as ch:
        yield ch


@pytest.fixture
def db(mesh):
    with psycopg.connect(mesh.pg_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def all_services(mesh):
    """The mesh with every service running, not just ingest."""
    mesh.start(*[name for name in SERVICES if name not in mesh.procs])
    return mesh


@pytest.fixture(scope="session")
def gateway(all_services):
    """The grpc-gateway REST proxy (`make gateway` builds it; `make test` does so first)."""
    all_services.start_gateway()
    return RestGateway(all_services.gateway_url, all_services.https_context(), all_services.token())
