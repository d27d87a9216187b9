"""Kafka crashes (SIGKILL) while readings are being ingested, then comes back:
every call either succeeds or fails UNAVAILABLE (never INTERNAL), and every
reading whose call succeeded is stored (once: the primary key sees to that).
The writer is also SIGKILLed and restarted while the broker is down: it must wait
for the broker, not exit."""

import tempfile
import threading
import time
from pathlib import Path

import grpc
import psycopg
import pytest

from meters.ingest_client import register_meters, stream_readings
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh
from tests.e2e.readings import interval_end, meters, readings
from tests.e2e.test_ingest import wait_for_count

pytestmark = pytest.mark.infra


@pytest.fixture
def own_stack():
    """A stack of its own: killing its broker must not disturb the other tests."""
    with tempfile.TemporaryDirectory(prefix="meters-outage-") as tmp:
        Path(tmp).chmod(0o755)
        with LocalStack(Path(tmp) / "stack") as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn,
                                                            stack.kafka_bootstrap) as mesh:
            mesh.start("ingest", "ingest-writer")
            yield stack, mesh


def test_readings_survive_a_broker_crash(own_stack):
    stack, mesh = own_stack
    sent, failed = [], []
    end = interval_end()
    with mesh.channel("ingest") as ch, psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        register_meters(ch, meters(1, 50))

        def send(batch_no: int):
            cols = readings(1, 50, 4, seed=batch_no, end=end - batch_no * 4 * 900)  # each batch its own past hour
            try:
                stream_readings(ch, [cols])
                sent.append((batch_no, len(cols), int(cols.reading_times_unix_s.min()),
                             int(cols.reading_times_unix_s.max())))
            except grpc.RpcError as err:
                failed.append(err.code())

        send(0)
        stack.kafka.kill()
        during = threading.Thread(target=lambda: [send(i) for i in range(1, 4)])
        during.start()
        mesh.kill("ingest-writer")
        mesh.start("ingest-writer")
        time.sleep(3)
        stack.kafka.start()
        during.join()
        send(4)

        assert set(failed) <= {grpc.StatusCode.UNAVAILABLE}, failed
        assert {0, 4} <= {b for b, *_ in sent}  # before the crash and after the restart at least
        in_window = ("SELECT count(*) FROM meters.meter_readings"
                     " WHERE reading_time BETWEEN to_timestamp(%s) AND to_timestamp(%s)")
        for _, count, first, last in sent:  # every acknowledged reading is stored
            stored = wait_for_count(db, in_window, [first, last], count, timeout_s=180)
            assert stored == count, mesh.log_tail("ingest-writer")
