"""Observability of the running mesh: every service's /metrics passes `promtool check metrics`, and a
real Prometheus scraping the mesh answers every Prometheus query of every Grafana dashboard with
series, while every SQL query of every dashboard runs against the real schema."""

import json
import re
import shutil
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
from observability.prometheus import server as prometheus
from observability.prometheus.scrape import render
from tests.e2e.readings import meters, readings

pytestmark = [pytest.mark.infra,
              pytest.mark.skipif(shutil.which("promtool") is None or shutil.which("prometheus") is None,
                                 reason="Prometheus not installed (Debian package `prometheus`; .ci/run installs it)")]
REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "observability/grafana/dashboards").glob("*.json"))
FIRST_METER = 7_700_001


def make_traffic(mesh) -> None:
    """Readings (some flagged, some rejected), alerts of every severity, and a failing call."""
    with grpc.insecure_channel(mesh.grpc_addr("ingest")) as ch:
        register_meters(ch, meters(FIRST_METER, 20))
        cols = readings(FIRST_METER, 20, 8, seed=6)
        cols.voltage_v[::10] = 255.0  # voltage warnings
        cols.voltage_v[5::40] = 300.0  # rejected
        ingest_service_pb2_grpc.IngestServiceStub(ch).IngestReadings(ipb.IngestReadingsRequest(batch=to_batch(cols)))
    with grpc.insecure_channel(mesh.grpc_addr("alert")) as ch:
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


def test_every_dashboard_has_targets_of_both_kinds():
    assert len(DASHBOARDS) == 7
    assert targets("prometheus") and targets("meters-postgres")


def test_every_prometheus_query_returns_series(observed):
    _, port = observed
    pending = {(board, panel, t["expr"].replace("$__rate_interval", "5m"))
               for board, panel, t in targets("prometheus")}
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        pending = {p for p in pending if not prometheus.api(port, "query", query=p[2])["data"]["result"]}
        time.sleep(1)
    assert not pending, f"queries without series: {sorted(pending)}"


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
