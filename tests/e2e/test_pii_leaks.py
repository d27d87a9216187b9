"""No raw customer or meter identifier leaves the edge: the demo's traffic (a small fleet registered
with every service, its readings streamed, every service's part of the demo report), a NEM12 import
of known NMIs (one registered, one with a malformed day, one unknown), an export and REST calls
through the gateway run on a mesh of the test's own; then every process log, every /metrics page,
every Kafka message of every topic and every database row is scanned for the raw NMIs, meter numbers
and account numbers, and for their unsalted sha256.

So that the scan cannot pass by seeing nothing, each place also gets a control planted in the same
run: a JSON log line, a metric label, a protobuf message on a scratch topic and a table row, each
holding an identifier. The scan must find exactly those and nothing else.
"""

import asyncio
import hashlib
import logging
import time

import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from meters import kafka
from meters.demo import available_services, mesh_sections, model_registry, stream_fleet
from meters.fleet import FleetConfig, generate_topology
from meters.fleet_registration import ServiceChannels, record_weather, register_fleet
from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest.v1.meter_pb2 import Meter
from meters.log import JsonFormatter
from meters.mesh import SERVICES
from meters.security.leak_scan import Needles, ScanReport, scan_database, scan_files, scan_kafka, scan_metrics
from tests.e2e.own_stack import own_mesh
from tests.nem12_files import day, nem12
from tests.rest import RestGateway

pytestmark = pytest.mark.infra
CFG = FleetConfig(meters=40, days=7, seed=23)
NMI_STORED, NMI_MALFORMED, NMI_UNKNOWN = "6305PII001", "6305PII002", "6305PII099"
NEM12_DAY = "20261101"
CONTROL_TOPIC = "pii-scan-control"


def nem12_file() -> bytes:
    return nem12("100,NEM12,202611301200,MDP1,RET1",
                 f"200,{NMI_STORED},E1,E1,E1,,M1,kWh,30,", day(NEM12_DAY, [0.25] * 48),
                 f"200,{NMI_MALFORMED},E1,E1,E1,,M2,kWh,30,", day(NEM12_DAY, [0.5] * 40),  # 40 of 48 values
                 f"200,{NMI_UNKNOWN},E1,E1,E1,,M3,kWh,30,", day(NEM12_DAY, [0.75] * 48),
                 "900")


def import_nem12(ingest, data: bytes, name: str):
    stub = ingest_service_pb2_grpc.IngestServiceStub(ingest)
    stub.BatchCreateMeters(pb.BatchCreateMetersRequest(meters=[
        Meter(meter_id=900_001, meter_number=NMI_STORED), Meter(meter_id=900_002, meter_number=NMI_MALFORMED)]),
        timeout=30)
    return stub.ImportNem12(iter([pb.ImportNem12Request(file_name=name, chunk=data)]), timeout=120).summary


def wait_for_rows(dsn: str, sql: str, want: int, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(dsn, autocommit=True) as conn:
        while (got := conn.execute(sql).fetchone()[0]) < want and time.monotonic() < deadline:
            time.sleep(0.5)
    return got


class Controls:
    """One identifier planted in each kind of place, where the scanner must find it."""

    def __init__(self, log_id: str, metric_id: str, kafka_id: str, db_id: str):
        self.expected = {("log:pii-control.log", log_id, "raw"), ("metrics:control", metric_id, "raw"),
                         (f"kafka:{CONTROL_TOPIC}", kafka_id, "raw"), ("db:pii_control.leak", db_id, "sha256")}
        self._ids = (log_id, metric_id, kafka_id, db_id)
        self._metrics = None

    def plant(self, mesh, dsn: str, bootstrap: str) -> str:
        log_id, metric_id, kafka_id, db_id = self._ids
        record = logging.LogRecord("control", logging.INFO, __file__, 0, "meter registered", None, None)
        record.fields = {"meter_number": log_id}  # what a careless log call would write
        (mesh.run_dir / "pii-control.log").write_text(JsonFormatter().format(record) + "\n")
        registry = CollectorRegistry()
        Gauge("pii_control", "a metric labelled with an identifier", ["account"], registry=registry) \
            .labels(account=metric_id).set(1)
        self._metrics, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
        asyncio.run(self._publish(bootstrap, Meter(meter_id=1, meter_number=kafka_id).SerializeToString()))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA pii_control")
            conn.execute("CREATE TABLE pii_control.leak (note text)")
            conn.execute("INSERT INTO pii_control.leak VALUES (%s)", [hashlib.sha256(db_id.encode()).hexdigest()])
        return f"http://127.0.0.1:{self._metrics.server_port}/metrics"

    @staticmethod
    async def _publish(bootstrap: str, value: bytes) -> None:
        await kafka.ensure_topics(bootstrap, {CONTROL_TOPIC: 1})  # the broker creates no topic by itself
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(CONTROL_TOPIC, value)
        finally:
            await producer.stop()

    def stop(self) -> None:
        if self._metrics is not None:
            self._metrics.shutdown()

    @staticmethod
    def place(finding) -> str:
        return finding.place.rsplit(":", 1)[0] if finding.place.startswith("log:") else finding.place.split("/")[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The traffic on an own mesh, then the scan of all of it: (mesh, topology, report, stored digests)."""
    registry = model_registry(tmp_path_factory.mktemp("pii-models"))  # the repo's promoted models, else quick ones
    services = available_services()
    with own_mesh("pii", *services, env={"METERS_MODEL_REGISTRY": str(registry)}) as (stack, mesh):
        topology = generate_topology(CFG)
        with mesh.channel("ingest") as ingest, mesh.channel("scoring") as scoring, \
                mesh.channel("forecast") as forecast, mesh.channel("customer") as customer:
            register_fleet(topology, ServiceChannels(ingest, scoring, forecast, customer))
            record_weather(CFG, customer)
        result, truth = stream_fleet(mesh, CFG, topology)
        assert result.rows_stored == result.accepted > 0
        with mesh.channel("ingest") as ingest:
            summary = import_nem12(ingest, nem12_file(), "NEM12#PIITEST#MDP1#RET1.csv")
        assert summary.unknown_nmi_count == 1 and summary.problem_count == 1 and summary.summary.accepted == 48
        sections, ok = mesh_sections(mesh, truth, CFG.end_unix_s, CFG.days)
        assert ok, sections
        wait_for_rows(stack.pg_dsn, "SELECT count(*) FROM meters.meter_readings WHERE meter_id > 900000", 48)
        wait_for_rows(stack.pg_dsn, f"SELECT count(*) FROM meters.rejected_readings WHERE source_topic = "
                                    f"'nem12:{summary.sha256}'", summary.summary.rejected)
        mesh.start_gateway()
        _rest_calls(mesh, topology)
        with psycopg.connect(stack.pg_dsn) as conn:
            stored = {
                "meters": {n for (n,) in conn.execute("SELECT meter_number FROM meters.smart_meters")},
                "customers": {h for (h,) in conn.execute("SELECT customer_hash FROM customers.customers")}}

        controls = Controls(log_id=str(topology.meters.meter_number.iloc[0]),
                            metric_id=str(topology.customers.account_number.iloc[0]),
                            kafka_id=NMI_STORED, db_id=str(topology.customers.account_number.iloc[1]))
        try:
            control_url = controls.plant(mesh, stack.pg_dsn, stack.kafka_bootstrap)
            needles = Needles([*topology.meters.meter_number.astype(str), *topology.customers.account_number,
                               NMI_STORED, NMI_MALFORMED, NMI_UNKNOWN])
            report = _scan(needles, stack, mesh, services, control_url)
        finally:
            controls.stop()
        yield mesh, topology, report, stored, controls


def _rest_calls(mesh, topology) -> None:
    """Calls through the gateway whose requests carry a keyed hash in the path and a raw NMI in the query."""
    gateway = RestGateway(mesh.gateway_url, mesh.https_context(), mesh.token())
    digest = mesh.pii_digest(str(topology.customers.account_number.iloc[0]))
    assert gateway.call(f"/api/v1/customers/{digest}")[0] == 200
    assert gateway.call(f"/api/v1/customers/{digest}/recommendations")[0] == 200
    start = int(time.mktime(time.strptime(NEM12_DAY, "%Y%m%d"))) - 86_400
    status, _ = gateway.call(f"/api/v1/nem12:export?nmi={NMI_STORED}&start_time_unix_s={start}"
                             f"&end_time_unix_s={start + 3 * 86_400}")
    assert status == 200


def _scan(needles: Needles, stack, mesh, services, control_url: str) -> ScanReport:
    logs = sorted(mesh.run_dir.glob("*.log")) + [stack.kafka.log_file, stack.postgres.log_file]
    metrics = {name: f"http://127.0.0.1:{mesh.metrics_port(name)}/metrics" for name in services}
    report = scan_files(needles, logs)
    report.add(scan_metrics(needles, {**metrics, "control": control_url}))
    report.add(asyncio.run(scan_kafka(needles, stack.kafka_bootstrap)))
    return report.add(scan_database(needles, stack.pg_dsn))


def test_the_scan_read_every_place_of_the_demo(run):
    _, _, report, _, _ = run
    scanned = report.scanned
    kinds = {}
    for place, n in scanned.items():
        kinds.setdefault(place.split(":")[0], []).append(n)
    print("scanned: " + ", ".join(f"{k} {len(v)} places / {sum(v):,}" for k, v in kinds.items()))
    for name in SERVICES:
        assert scanned.get(f"log:{name}.log", 0) > 0, f"no log lines of {name}"
        assert scanned.get(f"metrics:{name}", 0) > 0, f"no metrics of {name}"
    assert scanned["log:gateway.log"] > 0 and scanned["log:kafka.log"] > 0
    assert scanned["kafka:meter-readings"] > 0 and scanned["kafka:meter-readings-rejected"] > 0
    assert scanned["db:meters.smart_meters"] >= CFG.meters and scanned["db:customers.customers"] >= CFG.meters
    assert scanned["db:meters.meter_readings"] > 0 and scanned["db:meters.rejected_readings"] > 0


def test_the_scan_finds_every_planted_control(run):
    *_, report, _, controls = run
    found = {(Controls.place(f), f.identifier, f.form) for f in report.findings}
    assert controls.expected <= found


def test_no_raw_identifier_in_logs_metrics_kafka_or_tables(run):
    *_, report, _, controls = run
    planted = {place for place, _, _ in controls.expected}
    leaks = [f for f in report.findings if Controls.place(f) not in planted]
    by_place: dict[str, list] = {}
    for f in leaks:
        by_place.setdefault(Controls.place(f), []).append(f)
    shown = "\n".join(f"{place}: {len(found)}, e.g.\n" + "\n".join(f"  {f}" for f in found[:3])
                      for place, found in sorted(by_place.items()))
    assert not leaks, f"{len(leaks)} raw identifiers found outside the edge:\n{shown}"


def test_identifiers_reach_the_tables_as_keyed_hashes(run):
    mesh, topology, _, stored, _ = run
    meters = {mesh.pii_digest(n) for n in [*topology.meters.meter_number.astype(str), NMI_STORED, NMI_MALFORMED]}
    assert stored["meters"] == meters
    assert stored["customers"] == {mesh.pii_digest(a) for a in topology.customers.account_number}
