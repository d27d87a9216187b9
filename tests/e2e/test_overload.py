"""Ingest under several times the readings it admits at once (six concurrent streams against a bound
of two batches in flight), for a bounded time: every batch is either acknowledged and then stored
whole, or refused RESOURCE_EXHAUSTED with RetryInfo and none of it stored; nothing else happens to
any reading, and the service stays SERVING throughout."""

import threading
import time
import urllib.request

import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest_client import register_meters, stream_readings
from meters.ingest_load import batch_at, overload, slot_time, template
from tests.e2e.own_stack import own_mesh
from tests.e2e.readings import meters, readings
from tests.e2e.test_ingest import wait_for_count

pytestmark = pytest.mark.infra

FIRST, METERS = 1, 2_000
BOUND = 2 * METERS  # readings in flight: two batches of the six streams at a time
LIMITS = {"METERS_MAX_INFLIGHT_READINGS": str(BOUND), "METERS_OVERLOAD_RETRY_AFTER_S": "0.05"}


def refused_by_ingest(mesh) -> float:
    """meters_admission_refused_total{limit="readings"} as ingest reports it."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{mesh.metrics_port('ingest')}/metrics", timeout=10).read()
    for line in text.decode().splitlines():
        if line.startswith('meters_admission_refused_total{limit="readings"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_overload_is_refused_with_retry_info_and_no_reading_is_lost():
    with own_mesh("overload", "ingest", "ingest-writer", env=LIMITS) as (_, mesh), \
            mesh.channel("ingest") as ch, psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        register_meters(ch, meters(FIRST, METERS))
        end = int(time.time())
        load = overload(ch, FIRST, METERS, streams=6, seconds=8, end_unix_s=end)

        assert not load.errors, load.errors[:3]
        assert load.acknowledged and load.refused, "the load never went past the bound"
        assert refused_by_ingest(mesh) == load.refusals * METERS  # each refusal was the readings bound's
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING

        # One more batch, on every partition: once it is stored, whatever was published before is too.
        last = max(load.acknowledged + load.refused) + 1
        ingest_service_pb2_grpc.IngestServiceStub(ch).StreamReadings(
            iter([batch_at(template(FIRST, METERS), slot_time(end, last))]), timeout=60)
        assert wait_for_count(db, "SELECT count(*) FROM meters.meter_readings WHERE reading_time = to_timestamp(%s)",
                              [slot_time(end, last)], METERS, timeout_s=300) == METERS

        stored = dict(db.execute("SELECT extract(epoch FROM reading_time)::int8, count(*)"
                                 " FROM meters.meter_readings GROUP BY 1").fetchall())
        acknowledged = {slot_time(end, k): METERS for k in [*load.acknowledged, last]}
        assert stored == acknowledged  # every acknowledged batch whole, nothing of a refused one
        assert db.execute("SELECT count(*) FROM meters.rejected_readings").fetchone()[0] == 0
        assert db.execute("SELECT count(DISTINCT (meter_id, reading_time)) FROM meters.meter_readings"
                          ).fetchone()[0] == sum(stored.values())


def test_a_stream_refused_for_overload_is_resent_by_the_client_from_the_refused_batch():
    """meters.ingest_client.stream_readings under the same overload: it waits the RetryInfo delay and
    re-sends from the refused batch, so its summary and the stored rows count every reading once."""
    with own_mesh("overload-client", "ingest", "ingest-writer", env=LIMITS) as (_, mesh), \
            mesh.channel("ingest") as ch, psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        register_meters(ch, meters(FIRST, METERS))
        end = int(time.time())
        loads = []
        pressure = threading.Thread(target=lambda: loads.append(overload(ch, FIRST, METERS, 5, 6, end)))
        pressure.start()
        cols = readings(FIRST, METERS, 20, seed=5)
        cols.reading_times_unix_s[:] -= 200 * 24 * 3600  # days no overload batch uses
        reply = stream_readings(ch, [cols], batch_size=METERS, window=4)
        pressure.join()
        assert reply.summary.accepted == len(cols) and reply.summary.rejected == 0 and reply.batches == 20
        assert refused_by_ingest(mesh) > loads[0].refusals * METERS, "the client's own stream was never refused"
        window = [int(cols.reading_times_unix_s.min()), int(cols.reading_times_unix_s.max())]
        assert wait_for_count(db, "SELECT count(*) FROM meters.meter_readings"
                              " WHERE reading_time BETWEEN to_timestamp(%s) AND to_timestamp(%s)",
                              window, len(cols), timeout_s=300) == len(cols)
