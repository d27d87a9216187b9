"""The platform's Prometheus alerts reach alert_svc through a real Alertmanager: the real `prometheus`
and `prometheus-alertmanager` binaries, alert_svc with its HTTPS webhook receiver (bearer token from
the file Alertmanager reads as credentials_file, the mesh's CA).

Prometheus loads the platform's rules and one test rule on a gauge this test sets (two series, one
group): when it fires, ListAlerts shows one PLATFORM alert for the group, which stays one across
Alertmanager's re-sends; when it clears, the alert is resolved. Each change has its audit row. The
webhook refuses a request without the token (401) and answers a bad body 400 with its reason.
"""

import json
import shutil
import subprocess
import ssl
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from alert_svc.alertmanager_webhook import PATH
from meters.alert.v1 import alert_pb2 as apb
from meters.alert.v1 import alert_service_pb2 as pb
from meters.alert.v1 import alert_service_pb2_grpc
from meters.deadlines import CALL_S
from meters.mesh import Mesh
from meters.security import pki
from observability.alertmanager import config as am_config
from observability.alertmanager import server as alertmanager
from observability.prometheus import server as prometheus
from observability.prometheus.scrape import render
from tests.e2e.metrics import metric
from tests.test_alert_service import wait_for

pytestmark = [pytest.mark.infra, pytest.mark.usefixtures("prometheus_installed", "alertmanager_installed")]
REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "observability/prometheus/rules"
TEST_RULE = """groups:
  - name: alertmanager-e2e
    rules:
      - alert: MetersTestCondition
        expr: meters_test_condition > 0
        for: 1s
        labels:
          severity: warning
        annotations:
          summary: 'Test condition {{ $labels.case }} holds'
          description: Set by tests/e2e/test_alertmanager.py.
"""
FAST = am_config.Timing(group_wait="1s", group_interval="1s", repeat_interval="2s")
EXPORTER_OFFSET = 97


@pytest.fixture(scope="module")
def alert_dsn(local_stack):
    name = f"alertmanager_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(local_stack.postgres.dsn_for("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield local_stack.postgres.dsn_for(name)


@pytest.fixture(scope="module")
def monitored(local_stack, alert_dsn, tmp_path_factory):
    """alert_svc with its webhook, a gauge to alert on, Alertmanager and Prometheus (platform rules + test rule)."""
    run = tmp_path_factory.mktemp("alertmanager")
    registry = CollectorRegistry()
    condition = Gauge("meters_test_condition", "Set by the test: > 0 fires MetersTestCondition.", ["case"],
                      registry=registry)
    for case in ("a", "b"):
        condition.labels(case).set(0)
    with Mesh(run / "mesh", alert_dsn, local_stack.kafka_bootstrap) as mesh:
        am_file, webhook_env = am_config.write_local(run, mesh.port_base, pki.ca_path(mesh.pki_dir), FAST)
        done = subprocess.run(["amtool", "check-config", str(am_file)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        mesh.start("alert", env=webhook_env)
        exporter, _ = start_http_server(mesh.port_base + EXPORTER_OFFSET, addr="127.0.0.1", registry=registry)
        rules = run / "rules"
        shutil.copytree(RULES, rules)
        (rules / "test.yml").write_text(TEST_RULE)
        prom_file = run / "prometheus.yml"
        prom_file.write_text(render(mesh.port_base, "1s", str(rules / "*.yml"),
                                    {"meters-test-condition": f"127.0.0.1:{mesh.port_base + EXPORTER_OFFSET}"}))
        am_addr, prom_port = am_config.alertmanager_addr(mesh.port_base), mesh.port_base + 90
        procs = []
        try:
            procs.append(alertmanager.start(am_file, run / "am-data", am_addr, run / "alertmanager.log"))
            alertmanager.wait_ready(am_addr, procs[-1])
            procs.append(prometheus.start(prom_file, run / "prom-data", prom_port, run / "prometheus.log"))
            prometheus.wait_ready(prom_port, procs[-1])
            prometheus.wait_scraped(prom_port, {"meters-test-condition", "meters-alert"})
            yield mesh, condition, webhook_env, am_addr, prom_port
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)
            exporter.shutdown()


def platform_alerts(mesh) -> list[apb.Alert]:
    with mesh.channel("alert") as ch:
        reply = alert_service_pb2_grpc.AlertServiceStub(ch).ListAlerts(
            pb.ListAlertsRequest(source=apb.ALERT_SOURCE_PLATFORM, page_size=100), timeout=CALL_S)
    return [a for a in reply.alerts if a.labels.get("alertname") == "MetersTestCondition"]


def audit_events(mesh, resource: str) -> list[tuple]:
    with psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        return db.execute("SELECT action, actor, actor_via, outcome FROM audit.events"
                          " WHERE method = 'alert.alertmanager_webhook' AND resource = %s ORDER BY id",
                          [resource]).fetchall()


def notifications(mesh, **labels) -> float:
    return metric(mesh, "alert", "meters_alertmanager_notifications_total", **labels)


def test_platform_rules_are_loaded_by_the_real_prometheus(monitored):
    *_, prom_port = monitored
    groups = prometheus.api(prom_port, "rules")["data"]["groups"]
    names = {r["name"] for g in groups for r in g["rules"]}
    assert {"MetersIngestStalled", "MetersWriterStalled", "MetersServiceDown", "MetersTestCondition"} <= names
    assert all(r["health"] != "err" for g in groups for r in g["rules"]), groups
    managers = prometheus.api(prom_port, "alertmanagers")["data"]["activeAlertmanagers"]
    assert [m["url"] for m in managers] == [f"http://{monitored[3]}/api/v2/alerts"]


def test_a_firing_group_is_one_platform_alert_and_resolves_with_the_rule(monitored):
    mesh, condition, *_ = monitored
    for case in ("a", "b"):
        condition.labels(case).set(1)
    [alert] = wait_for(lambda: platform_alerts(mesh), timeout_s=60, what="the group's alert in alert_svc")
    assert alert.source == apb.ALERT_SOURCE_PLATFORM and alert.severity == apb.SEVERITY_WARNING
    assert alert.status == apb.ALERT_STATUS_OPEN and alert.dedup_key.startswith("alertmanager/")
    assert alert.labels["service"] == "test-condition"
    # Alertmanager re-sends the group (repeat_interval 2 s): each re-send changes nothing.
    wait_for(lambda: notifications(mesh, status="firing", outcome="unchanged") >= 3, timeout_s=60,
             what="Alertmanager's re-sends")
    [again] = platform_alerts(mesh)
    assert (again.alert_id, again.occurrences, again.status) == (alert.alert_id, 1, apb.ALERT_STATUS_OPEN)
    assert notifications(mesh, status="firing", outcome="raised") == 1

    for case in ("a", "b"):
        condition.labels(case).set(0)
    [resolved] = wait_for(lambda: [a for a in platform_alerts(mesh) if a.status == apb.ALERT_STATUS_RESOLVED],
                          timeout_s=60, what="the alert resolved after the rule cleared")
    assert resolved.alert_id == alert.alert_id and resolved.resolved_by == "alertmanager"
    assert len(platform_alerts(mesh)) == 1
    assert audit_events(mesh, f"alerts/{alert.alert_id}") == [
        ("create", "alertmanager", "token", "OK"), ("resolve", "alertmanager", "token", "OK")]


def post(mesh, webhook_env, body: bytes, token: str | None) -> tuple[int, dict]:
    url = f"https://127.0.0.1:{webhook_env['METERS_ALERTMANAGER_WEBHOOK_PORT']}{PATH}"
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    context = ssl.create_default_context(cafile=str(pki.ca_path(mesh.pki_dir)))
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=10, context=context) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_webhook_refuses_without_token_and_answers_bad_payloads_400(monitored):
    mesh, _, webhook_env, *_ = monitored
    token = Path(webhook_env["METERS_ALERTMANAGER_TOKEN_FILE"]).read_text().strip()
    good = json.dumps({"version": "4", "groupKey": "{}:{x}", "status": "resolved", "alerts": [
        {"status": "resolved", "startsAt": "2026-12-07T06:00:00Z", "labels": {"alertname": "X"}}]}).encode()
    assert post(mesh, webhook_env, good, None)[0] == 401
    assert post(mesh, webhook_env, good, "not-the-token")[0] == 401
    status, answer = post(mesh, webhook_env, b'{"version": "4", "alerts": [', token)
    assert status == 400 and "bad payload" in answer["error"]
    status, answer = post(mesh, webhook_env, json.dumps({"version": "4", "groupKey": "g", "status": "firing",
                                                         "alerts": [{"status": "firing"}]}).encode(), token)
    assert (status, answer["error"]) == (400, "bad payload: alerts[0].startsAt: not an RFC 3339 time: 'None'")
    assert post(mesh, webhook_env, good, token) == (200, {"outcome": "unknown", "alert": ""})
    assert mesh.procs["alert"].poll() is None  # still serving
