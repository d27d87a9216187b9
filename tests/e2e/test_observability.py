"""Observability of the running mesh: every service's /metrics passes `promtool check metrics`, and a
real Prometheus scraping the mesh answers every Prometheus query of every Grafana dashboard with
series, while every SQL query of every dashboard runs against the real schema."""

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import grpc
import pytest

from meters.alert.v1 import alert_pb2 as apb
from meters.alert.v1 import alert_service_pb2 as apb_svc
from meters.alert.v1 import alert_service_pb2_grpc
from meters.ingest.v1 import ingest_service_pb2 as ipb
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest_client import register_meters
from meters.mesh import SERVICES
from meters.readings import to_batch
from meters.scoring.v1 import scoring_service_pb2 as spb
from meters.scoring.v1 import scoring_service_pb2_grpc, transformer_pb2
from observability.prometheus import server as prometheus
from observability.prometheus.scrape import render
from tests.e2e.readings import meters, readings

pytestmark = [pytest.mark.infra, pytest.mark.usefixtures("prometheus_installed")]
REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "observability/grafana/dashboards").glob("*.json"))
FIRST_METER = 7_700_001
SUBSTATION, FIRST_TX = 77_001, 77_001_001  # clear of the ids the other e2e tests use


def make_traffic(mesh) -> None:
    """Readings (some flagged, some rejected), alerts of every severity, a failing call, and transformers
    with telemetry in every load band (the scoring service's load gauges)."""
    with mesh.channel("ingest") as ch:
        register_meters(ch, meters(FIRST_METER, 20))
        cols = readings(FIRST_METER, 20, 8, seed=6)
        cols.voltage_v[::10] = 255.0  # voltage warnings
        cols.voltage_v[5::40] = 300.0  # rejected
        ingest_service_pb2_grpc.IngestServiceStub(ch).IngestReadings(ipb.IngestReadingsRequest(batch=to_batch(cols)))
    with mesh.channel("alert") as ch:
        stub = alert_service_pb2_grpc.AlertServiceStub(ch)
        for severity, asset_type in ((apb.SEVERITY_CRITICAL, apb.ASSET_TYPE_SUBSTATION),
                                     (apb.SEVERITY_WARNING, apb.ASSET_TYPE_TRANSFORMER),
                                     (apb.SEVERITY_INFO, apb.ASSET_TYPE_CUSTOMER)):
            for _ in range(2):  # the second is folded into the first
                stub.CreateAlert(apb_svc.CreateAlertRequest(alert=apb.Alert(
                    title="observability test", severity=severity, source=apb.ALERT_SOURCE_ANOMALY_DETECTION,
                    asset_type=asset_type, asset_id=1, confidence=0.9)))
        with pytest.raises(grpc.RpcError):
            stub.GetAlert(apb_svc.GetAlertRequest(name="alerts/999999999"))
    with mesh.channel("scoring") as ch:
        stub = scoring_service_pb2_grpc.ScoringServiceStub(ch)
        stub.BatchCreateSubstations(spb.BatchCreateSubstationsRequest(substations=[transformer_pb2.Substation(
            substation_id=SUBSTATION, display_name="ZS-OBS", region="VIC", capacity_mva=10)]))
        loads = [40.0, 70.0, 95.0, 120.0]  # kVA of 100 kVA transformers: one in each band
        txs = [FIRST_TX + i for i in range(len(loads))]
        stub.BatchCreateTransformers(spb.BatchCreateTransformersRequest(transformers=[transformer_pb2.Transformer(
            transformer_id=tx, substation_id=SUBSTATION, region="VIC", capacity_kva=100) for tx in txs]))
        hour = int(time.time()) // 3600 * 3600
        reply = stub.RecordTransformerTelemetry(spb.RecordTransformerTelemetryRequest(
            batch=transformer_pb2.TransformerTelemetryBatch(
                transformer_ids=txs, hour_end_unix_s=[hour] * len(txs), load_kva=loads, peak_load_kva=loads,
                ambient_temp_c=[25.0] * len(txs), oil_temp_c=[60.0] * len(txs), winding_temp_c=[75.0] * len(txs),
                efficiency=[0.98] * len(txs))))
        assert reply.stored == len(txs)


@pytest.fixture(scope="module")
def observed(mesh, tmp_path_factory):
    mesh.start(*[name for name in SERVICES if name not in mesh.procs])
    make_traffic(mesh)
    run = tmp_path_factory.mktemp("prometheus")
    config = run / "prometheus.yml"
    config.write_text(render(mesh.port_base, "1s", str(REPO / "observability/prometheus/rules/*.yml")))
    port = mesh.port_base + 90
    proc = prometheus.start(config, run / "data", port, run / "prometheus.log")
    try:
        prometheus.wait_ready(port, proc)
        prometheus.wait_scraped(port, {f"meters-{name}" for name in SERVICES})
        yield mesh, port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("name", list(SERVICES))
def test_metrics_pass_promtool_check(observed, name):
    mesh, _ = observed
    body = urllib.request.urlopen(f"http://127.0.0.1:{mesh.metrics_port(name)}/metrics", timeout=5).read()
    done = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert done.returncode == 0, (done.stdout + done.stderr).decode()


def targets(kind: str) -> list[tuple[str, str, dict]]:
    found = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                if target["datasource"]["uid"] == kind:
                    found.append((board["title"], panel["title"], target))
    return found


# Series that exist only while a forecast candidate is in shadow (forecast_svc/promotion.py): checked
# here to be exported by the forecast service and to be valid queries; tests/e2e/test_model_lifecycle.py
# reads their values with a candidate in shadow.
SHADOW_ONLY = {"meters_model_live_mape_percent", "meters_model_live_median_latency_seconds"}


def test_every_dashboard_has_targets_of_both_kinds():
    assert len(DASHBOARDS) == 8
    assert targets("prometheus") and targets("meters-postgres")


def test_every_prometheus_query_returns_series(observed):
    mesh, port = observed
    pending = {(board, panel, t["expr"].replace("$__rate_interval", "5m"))
               for board, panel, t in targets("prometheus")}
    shadow_only = {p for p in pending if p[2] in SHADOW_ONLY}
    exported = urllib.request.urlopen(f"http://127.0.0.1:{mesh.metrics_port('forecast')}/metrics", timeout=5).read()
    for _, _, expr in shadow_only:
        assert f"# TYPE {expr} gauge" in exported.decode(), expr
        assert prometheus.api(port, "query", query=expr)["status"] == "success"
    pending -= shadow_only
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        pending = {p for p in pending if not prometheus.api(port, "query", query=p[2])["data"]["result"]}
        time.sleep(1)
    assert not pending, f"queries without series: {sorted(pending)}"


def test_grid_gauges_carry_the_traffic(observed):
    """The load gauges count the planted transformers; the voltage histogram saw every accepted reading."""
    _, port = observed

    def value(query: str) -> float | None:
        result = prometheus.api(port, "query", query=query)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    deadline = time.monotonic() + 30
    while value(f'meters_transformer_load_ratio_max{{substation_id="{SUBSTATION}"}}') != 1.2 \
            and time.monotonic() < deadline:
        time.sleep(1)
    assert value(f'meters_transformer_load_ratio_max{{substation_id="{SUBSTATION}"}}') == 1.2
    for band in ("under_50", "50_80", "80_100", "over_100"):
        assert value(f'sum(meters_transformers_by_load_band{{region="VIC",band="{band}"}})') >= 1, band
    assert value("sum(meters_ingest_reading_voltage_volts_count)") > 0
    assert value('sum(meters_ingest_reading_voltage_volts_bucket{le="250.0"})') < value(
        "sum(meters_ingest_reading_voltage_volts_count)")  # the 255 V readings


def expand_grafana_macros(sql: str) -> str:
    """The PostgreSQL datasource's macros, as Grafana expands them, over the last 7 days."""
    def group(m, alias):
        col, step = m.group(1), m.group(2)
        seconds = int(step[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[step[-1]]
        expr = f"to_timestamp(floor(extract(epoch from {col})/{seconds})*{seconds})"
        return expr + (' AS "time"' if alias else "")
    sql = re.sub(r"\$__timeGroupAlias\(([^,]+),\s*'(\w+)'\)", lambda m: group(m, True), sql)
    sql = re.sub(r"\$__timeGroup\(([^,]+),\s*'(\w+)'\)", lambda m: group(m, False), sql)
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", r"\1 BETWEEN now() - interval '7 days' AND now()", sql)
    assert "$__" not in sql, sql
    return sql


def test_every_sql_query_runs_against_the_schema(observed, db):
    failures = []
    for board, panel, target in targets("meters-postgres"):
        try:
            db.execute(expand_grafana_macros(target["rawSql"])).fetchall()
        except Exception as err:  # noqa: BLE001 - collect them all
            failures.append(f"{board} / {panel}: {err}")
    assert not failures, "\n".join(failures)
    assert db.execute("SELECT count(*) FROM meters.meter_readings WHERE meter_id >= %s",
                      [FIRST_METER]).fetchone()[0] > 0


def test_dashboards_are_generated_from_build_py():
    done = subprocess.run([".venv/bin/python", "-m", "observability.grafana.build", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
