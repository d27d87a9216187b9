"""Escalation on a real clock with short windows, against real PostgreSQL and a real alert_svc process
whose four channels point at local receivers:

- an alert nobody acknowledges goes tier by tier, and each tier's channels see a new notice
  (PagerDuty dedup_key, ServiceNow correlation_id, Message-ID of its own; Teams card headed ESCALATED);
- acknowledging stops it (and PagerDuty is told to acknowledge every tier's incident);
- resolving stops it (every tier's ServiceNow incident is resolved);
- alert_svc SIGKILLed mid-way resumes on restart and takes each tier exactly once;
- two escalators on one database (replicas) never take a step twice;
- every step has its audit event; a bad policy file stops the start.
Waits have deadlines; nothing asserts how fast.
"""

import asyncio
import datetime as dt
import json
import time

import psycopg
import pytest
from psycopg.rows import dict_row
from pydantic import ValidationError

from alert_svc.channels import email_message, idempotency_key, pagerduty_event, servicenow_incident, teams_card
from alert_svc.escalation import _DUE, Escalator
from alert_svc.escalation_policy import DEFAULT_POLICY, EscalationPolicy, Tier, load_policy
from alert_svc.escalation_timings import MIGRATIONS, figures_of, timing_figures
from alert_svc.store import AlertStore
from meters.alert.v1 import alert_pb2 as apb
from meters.alert.v1 import alert_service_pb2 as pb
from meters.alert.v1 import alert_service_pb2_grpc
from meters.db import migrate, open_pool
from meters.mesh import Mesh
from tests.receivers import HttpReceiver, SmtpReceiver, channel_env
from tests.test_alert_service import alert, free_port_base, wait_for

WINDOW_S = 1.5
POLICY = {"critical": [{"after_s": WINDOW_S, "channels": ["pagerduty", "teams"]},
                       {"after_s": WINDOW_S, "channels": ["servicenow", "email"]}],
          "warning": [{"after_s": WINDOW_S, "channels": ["teams"]}]}
INCIDENTS = "/servicenow/api/now/table/incident"


def critical(title: str, asset_id: int) -> apb.Alert:
    return alert(title=title, severity=apb.SEVERITY_CRITICAL, asset_id=asset_id)


def steps(dsn: str, alert_id: int) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as db:
        return db.execute("SELECT tier, channels, due_at, at FROM alerts.escalation_steps WHERE alert_id = %s"
                          " ORDER BY tier", [alert_id]).fetchall()


def undelivered(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as db:
        return db.execute("SELECT count(*) FROM alerts.outbox WHERE delivered_at IS NULL").fetchone()[0]


def pagerduty(http: HttpReceiver, key: str, action: str = "trigger") -> list[dict]:
    return [r["json"] for r in http.on("/pagerduty") if r["json"]["dedup_key"] == key
            and r["json"]["event_action"] == action]


@pytest.fixture
def receivers():
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        yield http, smtp


@pytest.fixture
def escalating(fresh_db, local_stack, receivers, tmp_path):
    """alert_svc on a database of its own, with the short policy and an escalation address."""
    http, smtp = receivers
    policy = tmp_path / "policy.yaml"
    policy.write_text(json.dumps(POLICY))  # JSON is YAML
    env = {**channel_env(http, smtp), "METERS_ESCALATION_POLICY_FILE": str(policy),
           "METERS_ESCALATION_POLL_S": "0.2", "METERS_ESCALATION_EMAIL_TO": "duty-manager@example.com"}
    with Mesh(tmp_path / "mesh", fresh_db, local_stack.kafka_bootstrap, port_base=free_port_base()) as mesh:
        mesh.start("alert", env=env)
        with mesh.channel("alert") as channel:
            yield mesh, env, fresh_db, alert_service_pb2_grpc.AlertServiceStub(channel)


@pytest.mark.infra
def test_an_unacknowledged_alert_escalates_tier_by_tier_and_each_tier_is_notified(escalating, receivers):
    _, _, dsn, stub = escalating
    http, smtp = receivers
    a = stub.CreateAlert(pb.CreateAlertRequest(alert=critical("Feeder F-7 tripped", 7))).alert
    wait_for(lambda: len(steps(dsn, a.alert_id)) == 2 and not undelivered(dsn), what="tiers 2 and 3 delivered")
    (t2, ch2, due2, at2), (t3, ch3, due3, at3) = steps(dsn, a.alert_id)
    assert (t2, sorted(ch2), t3, sorted(ch3)) == (2, ["pagerduty", "teams"], 3, ["email", "servicenow"])
    assert at2 >= due2 and due3 >= at2 and at3 >= due3  # never early; tier 3's window counts from tier 2
    first, tier2, tier3 = (f"meters-alert-{a.alert_id}", f"meters-alert-tier2-{a.alert_id}",
                           f"meters-alert-tier3-{a.alert_id}")
    # PagerDuty: the first page and a second, separate incident for the escalation tier
    assert len(pagerduty(http, first)) == 1 and len(pagerduty(http, tier2)) == 1
    assert pagerduty(http, tier2)[0]["payload"]["custom_details"]["escalation_tier"] == 2
    assert not pagerduty(http, tier3)  # tier 3 has no PagerDuty
    cards = [r["json"]["attachments"][0]["content"]["body"][0]["text"] for r in http.on("/teams")]
    assert sum("ESCALATED tier 2" in c for c in cards) == 1 and len(cards) == 2
    incidents = [r["json"] for r in http.on(INCIDENTS) if r["method"] == "POST"]
    assert sorted(i["correlation_id"] for i in incidents) == sorted([first, tier3])
    assert [i.get("major_incident_state") for i in incidents if i["correlation_id"] == tier3] == ["proposed"]
    mails = {m["message"]["Message-ID"]: m["to"] for m in smtp.received}
    assert set(mails) == {f"<{first}@meters-platform>", f"<{tier3}@meters-platform>"}
    assert mails[f"<{tier3}@meters-platform>"] == ["<duty-manager@example.com>"]
    with psycopg.connect(dsn, autocommit=True) as db:  # every step has its audit event
        events = db.execute("SELECT after->>'tier' FROM audit.events WHERE resource = %s AND action = 'escalate'"
                            " ORDER BY id", [a.name]).fetchall()
        assert [e[0] for e in events] == ["2", "3"]
        figures = timing_figures(db)
    assert figures["alert_escalation_tier2_steps"] == 1 and figures["alert_escalation_tier3_delay_p50_s"] >= 0


@pytest.mark.infra
def test_acknowledging_stops_escalation_and_tells_every_tier(escalating, receivers):
    _, _, dsn, stub = escalating
    http, _ = receivers
    a = stub.CreateAlert(pb.CreateAlertRequest(alert=critical("Substation S-2 fault", 2))).alert
    wait_for(lambda: steps(dsn, a.alert_id), what="tier 2")
    stub.AcknowledgeAlert(pb.AcknowledgeAlertRequest(name=a.name, acknowledged_by="op@example.com"))
    wait_for(lambda: pagerduty(http, f"meters-alert-tier2-{a.alert_id}", "acknowledge"), what="tier 2 acknowledged")
    time.sleep(3 * WINDOW_S)  # tier 3 would have fallen due in this time
    assert [s[0] for s in steps(dsn, a.alert_id)] == [2]
    assert pagerduty(http, f"meters-alert-{a.alert_id}", "acknowledge")
    # an acknowledged alert repeats (scoring raising it again) without escalating
    stub.CreateAlert(pb.CreateAlertRequest(alert=critical("Substation S-2 fault", 2)))
    time.sleep(2 * WINDOW_S)
    assert [s[0] for s in steps(dsn, a.alert_id)] == [2]


@pytest.mark.infra
def test_resolving_stops_escalation_and_resolves_every_tiers_incident(escalating, receivers):
    _, _, dsn, stub = escalating
    http, _ = receivers
    a = stub.CreateAlert(pb.CreateAlertRequest(alert=critical("Transformer T-9 overload", 9))).alert
    w = stub.CreateAlert(pb.CreateAlertRequest(alert=alert(title="Voltage sag", asset_id=10))).alert  # warning
    wait_for(lambda: len(steps(dsn, a.alert_id)) == 2 and steps(dsn, w.alert_id) and not undelivered(dsn),
             what="critical at tier 3, warning at tier 2")
    stub.ResolveAlert(pb.ResolveAlertRequest(name=a.name, resolved_by="op@example.com", resolution_note="fixed"))
    stub.ResolveAlert(pb.ResolveAlertRequest(name=w.name, resolved_by="op@example.com"))
    patches = lambda: [r for r in http.on(INCIDENTS) if r["method"] == "PATCH"]  # noqa: E731
    wait_for(lambda: len(patches()) == 2 and not undelivered(dsn), what="both incidents resolved")
    assert all(p["json"]["state"] == "6" for p in patches())
    assert pagerduty(http, f"meters-alert-tier2-{a.alert_id}", "resolve")
    time.sleep(2 * WINDOW_S)
    assert [s[0] for s in steps(dsn, a.alert_id)] == [2, 3] and [s[0] for s in steps(dsn, w.alert_id)] == [2]


@pytest.mark.infra
def test_a_restart_mid_way_resumes_without_repeating_a_tier(escalating, receivers):
    mesh, env, dsn, stub = escalating
    http, _ = receivers
    ids = [stub.CreateAlert(pb.CreateAlertRequest(alert=critical(f"Feeder F-{i} down", 100 + i)))
           .alert.alert_id for i in range(4)]
    wait_for(lambda: all(steps(dsn, i) for i in ids), what="tier 2 of every alert")
    mesh.kill("alert")  # SIGKILL: before or after tier 3 of some, mid-send of others
    time.sleep(WINDOW_S)
    mesh.start("alert", env=env)
    wait_for(lambda: all(len(steps(dsn, i)) == 2 for i in ids) and not undelivered(dsn),
             what="tier 3 of every alert after the restart")
    time.sleep(2 * WINDOW_S)
    assert all([s[0] for s in steps(dsn, i)] == [2, 3] for i in ids)
    for i in ids:  # one tier 2 incident each, re-sent at most by the kill, folded by its dedup_key
        assert {p["dedup_key"] for p in pagerduty(http, f"meters-alert-tier2-{i}")} == {f"meters-alert-tier2-{i}"}
    with psycopg.connect(dsn, autocommit=True) as db:
        assert db.execute("SELECT count(*) FROM alerts.outbox WHERE tier > 1 AND alert_id = ANY(%s)",
                          [ids]).fetchone()[0] == len(ids) * 4


async def _escalate_concurrently(dsn: str, passes: int) -> list[list[dict]]:
    policy = EscalationPolicy(critical=(Tier(after_s=0.5, channels=("teams",)), Tier(after_s=0.5, channels=("email",))))
    pools = [await open_pool(dsn, max_size=2) for _ in range(2)]
    try:
        escalators = [Escalator(p, policy, frozenset({"teams", "email"}), 0.05) for p in pools]

        async def run(e: Escalator) -> list[dict]:
            taken = []
            for _ in range(passes):
                taken += await e.escalate_due()
                await asyncio.sleep(0.02)
            return taken

        return await asyncio.gather(*(run(e) for e in escalators))
    finally:
        for p in pools:
            await p.close()


async def _raise_alerts(dsn: str, count: int) -> None:
    from alert_svc.escalation_timings import _raise

    pool = await open_pool(dsn, max_size=2)
    try:
        await _raise(AlertStore(pool), count, "concurrent")
    finally:
        await pool.close()


@pytest.mark.infra
def test_two_escalators_never_take_a_step_twice(fresh_db):
    migrate(fresh_db, MIGRATIONS)
    asyncio.run(_raise_alerts(fresh_db, 60))
    taken = asyncio.run(_escalate_concurrently(fresh_db, passes=60))
    both = [(s["alert_id"], s["tier"]) for side in taken for s in side]
    assert len(both) == len(set(both)) == 120  # every alert took tiers 2 and 3, once
    with psycopg.connect(fresh_db, autocommit=True) as db:
        assert db.execute("SELECT count(*), count(DISTINCT (alert_id, tier)) FROM alerts.escalation_steps"
                          ).fetchone() == (120, 120)
        assert db.execute("SELECT count(*) FROM alerts.outbox WHERE tier > 1").fetchone()[0] == 120
        assert db.execute("SELECT count(*) FROM audit.events WHERE action = 'escalate'").fetchone()[0] == 120
    print(f"\nescalators split the steps {len(taken[0])} / {len(taken[1])}")


async def _step_twice(dsn: str) -> tuple[dict | None, int]:
    """One escalator takes a due step; another, holding the same due row (read before the first
    committed), then tries it in a transaction of its own. Its result and the steps stored."""
    policy = EscalationPolicy(critical=(Tier(after_s=0.5, channels=("teams",)),))
    await asyncio.sleep(0.6)  # the alert's first window has passed
    pool = await open_pool(dsn, max_size=2)
    try:
        first, second = (Escalator(pool, policy, frozenset({"teams"}), 0.05) for _ in range(2))
        async with pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            severities, tiers, windows = policy.windows()
            await cur.execute(_DUE, [severities, tiers, windows, 10])
            rows = await cur.fetchall()
            await conn.rollback()
        assert len(rows) == 1 and await first.escalate_due()
        async with pool.connection() as conn, conn.transaction():  # commits: nothing changed, nothing to audit
            lost = await second._step(conn, rows[0])
        async with pool.connection() as conn:
            stored = (await (await conn.execute("SELECT count(*) FROM alerts.escalation_steps")).fetchone())[0]
        return lost, stored
    finally:
        await pool.close()


@pytest.mark.infra
def test_a_step_another_escalator_took_commits_as_a_no_op(fresh_db):
    """The audit trigger notes every INSERT statement on escalation_steps, also one that inserted nothing;
    the losing escalator's pass must still commit (it failed with 'without its audit event' before)."""
    migrate(fresh_db, MIGRATIONS)
    asyncio.run(_raise_alerts(fresh_db, 1))
    assert asyncio.run(_step_twice(fresh_db)) == (None, 1)


def test_policy_file_is_validated(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("critical:\n  - after_s: 0\n    channels: [pager]\n")
    with pytest.raises(ValidationError):
        load_policy(str(bad))
    assert load_policy("") == DEFAULT_POLICY
    good = tmp_path / "good.yaml"
    good.write_text("warning:\n  - after_s: 60\n    channels: [teams, email]\n")
    assert load_policy(str(good)).tiers("warning")[0].channels == ("teams", "email")
    assert load_policy(str(good)).tiers("critical") == ()


def test_figures_of_delays():
    figures = figures_of({2: [0.1, 0.2, 0.3, 0.4], 3: [1.0]})
    assert figures["alert_escalation_tier2_steps"] == 4 and figures["alert_escalation_tier2_delay_max_s"] == 0.4
    assert figures["alert_escalation_tier2_delay_p50_s"] == pytest.approx(0.25)
    assert figures["alert_escalation_tier3_delay_p95_s"] == 1.0


def test_an_escalated_notice_has_a_key_and_heading_of_its_own():
    row = {"id": 42, "title": "Feeder F-1 tripped", "description": "", "severity": "critical", "source": "manual",
           "confidence": None, "asset_type": None, "asset_id": None, "labels": {},
           "detected_at": dt.datetime(2026, 12, 7, tzinfo=dt.UTC)}
    first, escalated = {**row, "tier": 1}, {**row, "tier": 3, "action": "trigger"}
    assert (idempotency_key(row), idempotency_key(first), idempotency_key(escalated)) == (
        "meters-alert-42", "meters-alert-42", "meters-alert-tier3-42")
    assert pagerduty_event(escalated, "K")["dedup_key"] == "meters-alert-tier3-42"
    assert pagerduty_event(escalated, "K")["payload"]["summary"].startswith("[CRITICAL] [ESCALATED tier 3")
    assert pagerduty_event({**escalated, "action": "acknowledge"}, "K")["dedup_key"] == "meters-alert-tier3-42"
    assert servicenow_incident(escalated)["major_incident_state"] == "proposed"
    assert "major_incident_state" not in servicenow_incident(first)
    assert "ESCALATED tier 3" in teams_card(escalated)["attachments"][0]["content"]["body"][0]["text"]
    assert email_message(escalated, "a@x", ["b@x"])["Message-ID"] == "<meters-alert-tier3-42@meters-platform>"
    assert email_message(first, "a@x", ["b@x"])["Subject"] == "[CRITICAL] Feeder F-1 tripped"
