"""The alert service as a real process on real PostgreSQL: de-duplication, lifecycle, errors,
WatchAlerts resume, severity routing with real payload formats, and delivery through a channel outage."""

import random
import socket
import time
import urllib.request
import uuid

import grpc
import psycopg
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from meters.alert.v1 import alert_pb2 as apb
from meters.alert.v1 import alert_service_pb2 as pb
from meters.alert.v1 import alert_service_pb2_grpc
from meters.mesh import Mesh
from tests.receivers import HttpReceiver, SmtpReceiver, channel_env

pytestmark = pytest.mark.infra


def free_port_base() -> int:
    """A port base whose alert gRPC (+5) and metrics (+105) ports are free."""
    for _ in range(50):
        base = random.randrange(20000, 30000)
        try:
            for port in (base + 5, base + 105):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


@pytest.fixture(scope="module")
def receivers():
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        yield http, smtp


@pytest.fixture(scope="module")
def alert_mesh(local_stack, receivers, tmp_path_factory):
    http, smtp = receivers
    name = f"alerts_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(local_stack.postgres.dsn_for("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    env = channel_env(http, smtp)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        with Mesh(tmp_path_factory.mktemp("alert"), local_stack.postgres.dsn_for(name),
                  local_stack.kafka_bootstrap, port_base=free_port_base()) as mesh:
            mesh.start("alert")
            yield mesh


@pytest.fixture(scope="module")
def stub(alert_mesh):
    with alert_mesh.channel("alert") as ch:
        yield alert_service_pb2_grpc.AlertServiceStub(ch)


def alert(title="Transformer T-1 overheating", severity=apb.SEVERITY_WARNING, **kw) -> apb.Alert:
    kw.setdefault("source", apb.ALERT_SOURCE_FAILURE_PREDICTION)
    kw.setdefault("asset_type", apb.ASSET_TYPE_TRANSFORMER)
    kw.setdefault("asset_id", 1)
    return apb.Alert(title=title, severity=severity, **kw)


def details(err: grpc.RpcError) -> tuple[str, list[str]]:
    status = rpc_status.from_call(err)
    reason, fields = "", []
    for d in status.details:
        if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            d.Unpack(info)
            reason = info.reason
        elif d.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            d.Unpack(bad)
            fields = [v.field for v in bad.field_violations]
    return reason, fields


def alert_ref(request: dict) -> int:
    """The alert id a recorded PagerDuty, ServiceNow or Teams request is about (-1: a ServiceNow update,
    which names its incident by sys_id in the path)."""
    body = request["json"]
    if request["method"] == "PATCH":
        return -1
    if "dedup_key" in body:
        return int(body["dedup_key"].rsplit("-", 1)[1])
    if "correlation_id" in body:
        return int(body["correlation_id"].rsplit("-", 1)[1])
    facts = body["attachments"][0]["content"]["body"][2]["facts"]
    return int(next(f["value"] for f in facts if f["title"] == "Alert").split("/")[1])


def wait_for(predicate, timeout_s=60.0, what="condition"):  # generous: CI machines are slower
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_flapping_source_makes_one_alert_with_occurrences(stub):
    first = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(title="flap", dedup_key="flap-1")))
    assert first.created and first.alert.occurrences == 1 and first.alert.status == apb.ALERT_STATUS_OPEN
    for _ in range(99):
        again = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(title="flap", dedup_key="flap-1")))
        assert not again.created and again.alert.alert_id == first.alert.alert_id
    got = stub.GetAlert(pb.GetAlertRequest(name=first.alert.name)).alert
    assert got.occurrences == 100 and got.sequence > first.alert.sequence
    # a derived key de-duplicates too
    a = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(title="derived", asset_id=7)))
    b = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(title="derived", asset_id=7)))
    assert a.created and not b.created and a.alert.dedup_key == "failure_prediction/transformer/7/derived"


def test_lifecycle_acknowledge_resolve_and_reopen(stub):
    created = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(title="lifecycle", dedup_key="life"))).alert
    acked = stub.AcknowledgeAlert(pb.AcknowledgeAlertRequest(name=created.name, acknowledged_by="ana")).alert
    assert acked.status == apb.ALERT_STATUS_ACKNOWLEDGED and acked.acknowledged_by == "ana"
    assert acked.HasField("acknowledged_at")
    again = stub.AcknowledgeAlert(pb.AcknowledgeAlertRequest(name=created.name, acknowledged_by="bo")).alert
    assert again.acknowledged_by == "ana"
    resolved = stub.ResolveAlert(pb.ResolveAlertRequest(name=created.name, resolved_by="ana",
                                                        resolution_note="fan replaced")).alert
    assert resolved.status == apb.ALERT_STATUS_RESOLVED and resolved.resolution_note == "fan replaced"
    for call, req in ((stub.ResolveAlert, pb.ResolveAlertRequest(name=created.name)),
                      (stub.AcknowledgeAlert, pb.AcknowledgeAlertRequest(name=created.name))):
        with pytest.raises(grpc.RpcError) as err:
            call(req)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert details(err.value)[0] == "ALERT_RESOLVED"
    reopened = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(title="lifecycle", dedup_key="life")))
    assert reopened.created and reopened.alert.alert_id != created.alert_id


def test_bad_input_and_unknown_alerts(stub):
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateAlert(pb.CreateAlertRequest(alert=apb.Alert(confidence=1.5, asset_id=-1)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(details(err.value)[1]) >= {"alert.title", "alert.severity", "alert.source", "alert.confidence",
                                          "alert.asset_id"}
    with pytest.raises(grpc.RpcError) as err:
        stub.GetAlert(pb.GetAlertRequest(name="alerts/987654321"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and details(err.value)[0] == "ALERT_NOT_FOUND"
    with pytest.raises(grpc.RpcError) as err:
        stub.ResolveAlert(pb.ResolveAlertRequest(name="alerts/987654321"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        stub.GetAlert(pb.GetAlertRequest(name="meters/1"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and details(err.value)[1] == ["name"]
    with pytest.raises(grpc.RpcError) as err:
        stub.ListAlerts(pb.ListAlertsRequest(page_token="garbage"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_list_filters_and_pages(stub):
    ids = {stub.CreateAlert(pb.CreateAlertRequest(alert=alert(
        title=f"page {i}", asset_type=apb.ASSET_TYPE_SUBSTATION, asset_id=900 + (i % 2),
        severity=apb.SEVERITY_INFO, dedup_key=f"page-{i}"))).alert.alert_id for i in range(7)}
    seen, token, pages = [], "", 0
    while True:
        page = stub.ListAlerts(pb.ListAlertsRequest(page_size=3, page_token=token,
                                                    asset_type=apb.ASSET_TYPE_SUBSTATION))
        seen += [a.alert_id for a in page.alerts]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert set(seen) == ids and len(seen) == 7 and pages == 3
    one = stub.ListAlerts(pb.ListAlertsRequest(asset_type=apb.ASSET_TYPE_SUBSTATION, asset_id=901))
    assert len(one.alerts) == 3 and all(a.asset_id == 901 for a in one.alerts)
    crit = stub.ListAlerts(pb.ListAlertsRequest(severity=apb.SEVERITY_CRITICAL, asset_type=apb.ASSET_TYPE_SUBSTATION))
    assert not crit.alerts


def test_watch_resumes_without_missing_changes(stub):
    watch = stub.WatchAlerts(pb.WatchAlertsRequest(after_sequence=0, asset_type=apb.ASSET_TYPE_CUSTOMER))
    created = [stub.CreateAlert(pb.CreateAlertRequest(alert=alert(
        title=f"w{i}", asset_type=apb.ASSET_TYPE_CUSTOMER, asset_id=i + 1))).alert for i in range(3)]
    got, last = set(), 0
    for event in watch:
        got.add(event.alert.alert_id)
        assert event.alert.sequence > last
        last = event.alert.sequence
        if got >= {a.alert_id for a in created}:
            break
    watch.cancel()
    # while disconnected: two new alerts and a resolve
    later = [stub.CreateAlert(pb.CreateAlertRequest(alert=alert(
        title=f"w{i}", asset_type=apb.ASSET_TYPE_CUSTOMER, asset_id=i + 1))).alert for i in range(3, 5)]
    stub.ResolveAlert(pb.ResolveAlertRequest(name=created[0].name))
    resumed = stub.WatchAlerts(pb.WatchAlertsRequest(after_sequence=last, asset_type=apb.ASSET_TYPE_CUSTOMER))
    want = {a.alert_id for a in later} | {created[0].alert_id}
    seen = {}
    for event in resumed:
        assert event.alert.sequence > last
        seen[event.alert.alert_id] = event
        if want <= set(seen) and seen[created[0].alert_id].alert.status == apb.ALERT_STATUS_RESOLVED:
            break
    resumed.cancel()
    assert seen[created[0].alert_id].change == pb.ALERT_CHANGE_RESOLVED


def test_routing_by_severity_with_real_payloads(stub, receivers):
    http, smtp = receivers
    crit = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(
        title="Transformer T-42 failure likely", severity=apb.SEVERITY_CRITICAL, asset_id=42, confidence=0.91,
        description="hot spot 118 C"))).alert
    warn = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(title="T-43 warm", asset_id=43))).alert
    info = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(title="T-44 note", asset_id=44,
                                                              severity=apb.SEVERITY_INFO))).alert
    for a in (crit, warn, info):
        wait_for(lambda a=a: stub.GetAlert(pb.GetAlertRequest(name=a.name)).alert.HasField("notified_at"),
                 what=f"{a.name} notified")

    def sent(prefix, a):
        return [r for r in http.on(prefix) if alert_ref(r) == a.alert_id]

    def mails(a):
        return [m for m in smtp.received if m["message"]["Message-ID"] == f"<meters-alert-{a.alert_id}@meters-platform>"]

    pd = sent("/pagerduty/v2/enqueue", crit)
    assert len(pd) == 1
    event = pd[0]["json"]
    assert event["routing_key"] == "R0UT1NG" and event["event_action"] == "trigger"
    assert event["dedup_key"] == f"meters-alert-{crit.alert_id}"
    assert event["payload"]["severity"] == "critical" and event["payload"]["summary"] == crit.title
    assert event["payload"]["source"] == "meters-platform/transformer/42"
    teams = sent("/teams/webhook", crit)
    assert len(teams) == 1
    card = teams[0]["json"]["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    facts = {f["title"]: f["value"] for f in card["content"]["body"][2]["facts"]}
    assert facts["Confidence"] == "91%" and facts["Asset"] == "transformer/42"
    snow = sent("/servicenow/api/now/table/incident", crit)
    assert len(snow) == 1 and snow[0]["json"]["correlation_id"] == f"meters-alert-{crit.alert_id}"
    assert snow[0]["headers"]["Authorization"].startswith("Basic ")
    assert len(mails(crit)) == 1 and mails(crit)[0]["message"]["Subject"].startswith("[CRITICAL] ")
    assert len(mails(crit)[0]["to"]) == 2
    assert (len(sent("/pagerduty", warn)), len(sent("/teams", warn)), len(sent("/servicenow", warn)),
            len(mails(warn))) == (0, 1, 0, 1)
    assert (len(sent("/pagerduty", info)), len(sent("/teams", info)), len(mails(info))) == (0, 0, 1)
    got = stub.GetAlert(pb.GetAlertRequest(name=crit.name)).alert
    assert set(got.notified_channels) == {apb.NOTIFICATION_CHANNEL_PAGERDUTY, apb.NOTIFICATION_CHANNEL_TEAMS,
                                          apb.NOTIFICATION_CHANNEL_EMAIL, apb.NOTIFICATION_CHANNEL_SERVICENOW}


def test_channel_down_then_back_delivers_exactly_once(stub, receivers, alert_mesh):
    http, smtp = receivers
    http.stop()
    smtp.stop()
    try:
        a = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(
            title="Substation S-3 outage", severity=apb.SEVERITY_CRITICAL, asset_type=apb.ASSET_TYPE_SUBSTATION,
            asset_id=3))).alert
        metrics_url = f"http://127.0.0.1:{alert_mesh.metrics_port('alert')}/metrics"
        wait_for(lambda: b'meters_alert_notifications_failed_total{channel="email"} 3.0' in
                 urllib.request.urlopen(metrics_url).read() or _failed(metrics_url) >= 8, what="retries")
        assert not stub.GetAlert(pb.GetAlertRequest(name=a.name)).alert.HasField("notified_at")
    finally:
        http.start()
        smtp.start()
    wait_for(lambda: stub.GetAlert(pb.GetAlertRequest(name=a.name)).alert.HasField("notified_at"),
             what="delivery after the receivers came back")
    time.sleep(1.0)  # room for any duplicate to show up
    key = f"meters-alert-{a.alert_id}"
    for channel in ("/pagerduty", "/servicenow", "/teams"):
        assert len([r for r in http.on(channel) if alert_ref(r) == a.alert_id]) == 1, channel
    assert len([m for m in smtp.received if m["message"]["Message-ID"] == f"<{key}@meters-platform>"]) == 1


def _failed(metrics_url: str) -> float:
    total = 0.0
    for line in urllib.request.urlopen(metrics_url).read().decode().splitlines():
        if line.startswith("meters_alert_notifications_failed_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_acknowledge_and_resolve_follow_up_in_pagerduty_and_servicenow(stub, receivers):
    """Acknowledging and resolving a critical alert tells the incident systems, once each, and never
    before they heard of the alert: here the receivers are down while the operator acts."""
    http, _smtp = receivers
    http.stop()
    try:
        a = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(
            title="Feeder F-7 voltage collapse", severity=apb.SEVERITY_CRITICAL, asset_id=707))).alert
        stub.AcknowledgeAlert(pb.AcknowledgeAlertRequest(name=a.name, acknowledged_by="ops@example.com"))
        stub.ResolveAlert(pb.ResolveAlertRequest(name=a.name, resolved_by="ops@example.com",
                                                 resolution_note="tap changer reset"))
        time.sleep(0.5)
    finally:
        http.start()
    pd_path = "/pagerduty/v2/enqueue"
    actions = wait_for(lambda: (lambda acts: acts if "resolve" in acts else None)(
        [r["json"]["event_action"] for r in http.on(pd_path) if alert_ref(r) == a.alert_id]),
        what="PagerDuty resolve event")
    create = wait_for(lambda: [r for r in http.on("/servicenow/api/now/table/incident")
                               if r["method"] == "POST" and alert_ref(r) == a.alert_id], what="ServiceNow incident")
    sys_id = create[0]["reply"]["result"]["sys_id"]
    patches = wait_for(lambda: http.on(f"/servicenow/api/now/table/incident/{sys_id}"), what="ServiceNow resolution")
    time.sleep(1.0)  # room for any duplicate to show up
    actions = [r["json"]["event_action"] for r in http.on(pd_path) if alert_ref(r) == a.alert_id]
    assert actions == ["trigger", "acknowledge", "resolve"]
    resolve = [r["json"] for r in http.on(pd_path) if alert_ref(r) == a.alert_id][-1]
    assert resolve == {"routing_key": "R0UT1NG", "event_action": "resolve", "dedup_key": f"meters-alert-{a.alert_id}"}
    patches = http.on(f"/servicenow/api/now/table/incident/{sys_id}")
    assert len(create) == 1 and len(patches) == 1 and patches[0]["method"] == "PATCH"
    assert patches[0]["json"]["state"] == "6" and "tap changer reset" in patches[0]["json"]["close_notes"]
    got = stub.GetAlert(pb.GetAlertRequest(name=a.name)).alert
    assert got.status == apb.ALERT_STATUS_RESOLVED and got.HasField("notified_at")


def test_warning_resolution_sends_no_follow_up(stub, receivers):
    """Warnings never reached PagerDuty or ServiceNow, so resolving one tells neither."""
    http, _smtp = receivers
    a = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(title="T-77 warm", asset_id=77))).alert
    wait_for(lambda: stub.GetAlert(pb.GetAlertRequest(name=a.name)).alert.HasField("notified_at"), what="notified")
    updates_before = len([r for r in http.on("/servicenow") if r["method"] == "PATCH"])
    stub.ResolveAlert(pb.ResolveAlertRequest(name=a.name, resolved_by="ops@example.com"))
    time.sleep(1.0)
    assert [r for r in http.on("/pagerduty") if alert_ref(r) == a.alert_id] == []
    assert len([r for r in http.on("/servicenow") if r["method"] == "PATCH"]) == updates_before
