"""PostgreSQL crashes (SIGKILL of the postmaster and every backend) during a steady stream of readings
and stays down for a minute before it is started again (crash recovery from the WAL):

- ingest keeps accepting: every call of the stream succeeds, those during the outage included
  (readings go to Kafka; ingest needs PostgreSQL only for meter registration and reads);
- the writer is not restarted by anyone: it retries until the database is back and catches up;
- every acknowledged reading is stored exactly once (per-slot counts equal the acknowledged batches),
  nothing is kept as a duplicate or refused, nothing else is stored.

The PostgreSQL killed is this test's own (own_mesh: its own Kafka, PostgreSQL and mesh), never the
shared stack's. The scenario is meters/pg_outage.py, which bench/pg_outage.py times.
"""

import grpc
import pytest
from grpc_status import rpc_status

from google.rpc import error_details_pb2

from meters.deadlines import CALL_S
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest_client import register_meters
from meters.pg_outage import through_outage
from tests.e2e.metrics import metric
from tests.e2e.own_stack import own_mesh
from tests.e2e.readings import meters

pytestmark = pytest.mark.infra

FIRST, METERS = 1, 500
OUTAGE_S = 60


def refusal(ch: grpc.Channel) -> tuple[grpc.StatusCode, str]:
    """The status and ErrorInfo reason of GetMeter, which reads PostgreSQL."""
    try:
        ingest_service_pb2_grpc.IngestServiceStub(ch).GetMeter(pb.GetMeterRequest(name=f"meters/{FIRST}"), timeout=CALL_S)
    except grpc.RpcError as err:
        info = error_details_pb2.ErrorInfo()
        for detail in rpc_status.from_call(err).details:
            if detail.Is(info.DESCRIPTOR):
                detail.Unpack(info)
        return err.code(), info.reason
    return grpc.StatusCode.OK, ""


def test_postgres_down_for_a_minute_loses_and_duplicates_nothing():
    with own_mesh("pg-outage", "ingest", "ingest-writer") as (stack, mesh), mesh.channel("ingest") as ch:
        register_meters(ch, meters(FIRST, METERS))
        outage = through_outage(ch, stack.postgres, mesh.pg_dsn, FIRST, METERS, OUTAGE_S,
                                while_down=lambda: refusal(ch))

        assert not outage.errors, outage.errors[:3]
        # A call that needs the database is refused as retryable, not as an internal error.
        assert outage.while_down[0] == grpc.StatusCode.UNAVAILABLE, outage.while_down
        assert outage.while_down[1] == "DATABASE_UNAVAILABLE", outage.while_down
        assert outage.during > 0, "no call was acknowledged while PostgreSQL was down"
        assert outage.backlog_stored == outage.backlog, mesh.log_tail("ingest-writer")
        assert outage.stored == outage.expected  # every acknowledged batch whole, once, and nothing else
        assert outage.rejected_rows == 0
        assert mesh.procs["ingest-writer"].poll() is None, "the writer exited"
        restarts = metric(mesh, "ingest-writer", "meters_writer_restarts_total")
        assert restarts >= 1  # it did see the database go away
        print(f"\npg outage: down {outage.down_s:.1f} s; {outage.acknowledged} readings acknowledged,"
              f" {outage.during} while PostgreSQL was down; backlog of {outage.pending} stored"
              f" {outage.catch_up_s:.1f} s after the restart; writer restarts {restarts:.0f};"
              f" lost {outage.lost}, duplicated {outage.duplicated}")
