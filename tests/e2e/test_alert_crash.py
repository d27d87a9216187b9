"""alert_svc SIGKILLed between a channel's send and the outbox commit that records it, once for each
channel (fault injection: METERS_FAULT_KILL_AFTER_SEND=<channel> makes the process kill itself right
after its first successful send there), then started again without the fault:

- every alert is notified on every channel, and every outbox row ends delivered;
- the killed send is sent again (delivery is at-least-once), so each channel's receiver sees at least
  one more request than there are alerts: the crash window was really hit;
- after the channel's own de-duplication each notification is there once: PagerDuty triggers by
  dedup_key, mail by Message-ID; ServiceNow incidents are created once each without any (the sender
  looks its correlation_id up before creating one);
- Teams has no idempotency key: a re-sent card is a second card, counted, not hidden.

Each phase opens its alerts with the receivers down, so that the first successful send on the
phase's channel happens after the alerts are created, not before the CreateAlert call returns.
"""

import signal
import uuid

import psycopg
import pytest

from meters.alert.v1 import alert_pb2 as apb
from meters.alert.v1 import alert_service_pb2 as pb
from meters.alert.v1 import alert_service_pb2_grpc
from meters.deadlines import CALL_S
from meters.mesh import Mesh
from tests.receivers import HttpReceiver, SmtpReceiver, channel_env
from tests.test_alert_service import alert_ref, wait_for

pytestmark = pytest.mark.infra

CHANNELS = ("pagerduty", "teams", "email", "servicenow")
PER_PHASE = 3
INCIDENTS = "/servicenow/api/now/table/incident"


@pytest.fixture
def alert_dsn(local_stack):
    name = f"alert_crash_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(local_stack.postgres.dsn_for("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield local_stack.postgres.dsn_for(name)


def open_alerts(mesh: Mesh, first_asset: int, count: int) -> list[int]:
    with mesh.channel("alert") as ch:
        stub = alert_service_pb2_grpc.AlertServiceStub(ch)
        return [stub.CreateAlert(pb.CreateAlertRequest(alert=apb.Alert(
            title=f"Transformer T-{first_asset + i} failure likely", severity=apb.SEVERITY_CRITICAL,
            source=apb.ALERT_SOURCE_FAILURE_PREDICTION, asset_type=apb.ASSET_TYPE_TRANSFORMER,
            asset_id=first_asset + i)), timeout=CALL_S).alert.alert_id for i in range(count)]


def outbox(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as db:
        return db.execute("SELECT alert_id, channel, delivered_at IS NOT NULL, external_id FROM alerts.outbox"
                          " WHERE action = 'trigger'").fetchall()


def test_a_crash_between_send_and_commit_delivers_each_notification_once(local_stack, alert_dsn, tmp_path):
    with HttpReceiver() as http, SmtpReceiver() as smtp, pytest.MonkeyPatch.context() as mp, \
            Mesh(tmp_path / "mesh", alert_dsn, local_stack.kafka_bootstrap) as mesh:
        for key, value in channel_env(http, smtp).items():
            mp.setenv(key, value)
        ids = []
        for phase, channel in enumerate(CHANNELS):
            http.stop()
            smtp.stop()
            mp.setenv("METERS_FAULT_KILL_AFTER_SEND", channel)
            mesh.start("alert")
            ids += open_alerts(mesh, 100 * phase, PER_PHASE)
            http.start()
            smtp.start()
            assert mesh.procs["alert"].wait(60) == -signal.SIGKILL, mesh.log_tail("alert")
        mp.delenv("METERS_FAULT_KILL_AFTER_SEND")
        mesh.start("alert")
        wait_for(lambda: all(delivered for *_, delivered, _ in outbox(alert_dsn)), timeout_s=120,
                 what="every notification delivered after the last restart")

    keys = {f"meters-alert-{i}" for i in ids}
    rows = outbox(alert_dsn)
    assert len(rows) == len(ids) * len(CHANNELS)
    triggers = [r["json"]["dedup_key"] for r in http.on("/pagerduty") if r["json"]["event_action"] == "trigger"]
    cards = [alert_ref(r) for r in http.on("/teams")]
    mails = [m["message"]["Message-ID"] for m in smtp.received]
    incidents = [r for r in http.on(INCIDENTS) if r["method"] == "POST"]

    assert set(triggers) == keys and len(triggers) > len(keys)  # one incident per dedup_key; a re-send
    assert set(mails) == {f"<{k}@meters-platform>" for k in keys} and len(mails) > len(keys)
    assert set(cards) == set(ids) and len(cards) > len(ids)  # at-least-once: the killed card shown twice
    # ServiceNow: one incident per alert with no de-duplication at all, and the outbox holds its sys_id.
    assert sorted(r["json"]["correlation_id"] for r in incidents) == sorted(keys)
    assert any(q["found"] for q in http.queries)  # the re-send found the incident its killed send made
    sys_ids = {r["json"]["correlation_id"]: r["reply"]["result"]["sys_id"] for r in incidents}
    assert {ext for a, ch, _, ext in rows if ch == "servicenow"} == set(sys_ids.values())
    print(f"\nalert crash: {len(CHANNELS)} SIGKILLs, {len(ids)} alerts x {len(CHANNELS)} channels;"
          f" raw requests pagerduty {len(triggers)} (deduped {len(set(triggers))}), email {len(mails)}"
          f" (deduped {len(set(mails))}), teams {len(cards)} ({len(cards) - len(set(cards))} repeated cards),"
          f" servicenow {len(incidents)} incidents created, {len(http.queries)} look-ups"
          f" ({sum(1 for q in http.queries if q['found'])} found one)")
