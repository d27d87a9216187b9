"""Alert routing, retry schedule and notification payloads, without any network or database."""

import datetime as dt

from alert_svc.channels import email_message, pagerduty_event, servicenow_incident, servicenow_resolution, teams_card
from alert_svc.outbox import backoff_s
from alert_svc.routing import channels_for

ALERT = {"id": 12, "title": "Transformer T-7 failure likely", "description": "hot spot 118 C", "severity": "critical",
         "source": "failure_prediction", "confidence": 0.87, "asset_type": "transformer", "asset_id": 7,
         "detected_at": dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.timezone.utc), "labels": {"model": "xgb-3"}}
ALL = frozenset({"pagerduty", "teams", "email", "servicenow"})


def test_severity_routing_follows_the_plan():
    assert channels_for("critical", ALL) == ["pagerduty", "teams", "email", "servicenow"]
    assert channels_for("warning", ALL) == ["teams", "email"]
    assert channels_for("info", ALL) == ["email"]
    assert channels_for("critical", frozenset({"email"})) == ["email"]


def test_backoff_doubles_up_to_the_cap():
    for attempt, expected in ((1, 2), (2, 4), (3, 8), (10, 300)):
        assert 0.8 * expected <= backoff_s(attempt, 2, 300) <= 1.2 * expected


def test_payloads_carry_the_idempotency_key_and_plan_fields():
    pd = pagerduty_event(ALERT, "KEY")
    assert pd["event_action"] == "trigger" and pd["dedup_key"] == "meters-alert-12"
    assert pd["payload"]["severity"] == "critical" and pd["payload"]["custom_details"]["model"] == "xgb-3"
    card = teams_card(ALERT)["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == "[CRITICAL] Transformer T-7 failure likely"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts == {"Asset": "transformer/7", "Confidence": "87%", "Time": "2026-11-23 09:30 UTC",
                     "Source": "failure_prediction", "Alert": "alerts/12"}
    assert servicenow_incident(ALERT)["correlation_id"] == "meters-alert-12"
    msg = email_message(ALERT, "from@x", ["a@x", "b@x"])
    assert msg["Message-ID"] == "<meters-alert-12@meters-platform>" and msg["To"] == "a@x, b@x"


def test_follow_up_payloads():
    resolve = pagerduty_event({**ALERT, "action": "resolve"}, "KEY")
    assert resolve == {"routing_key": "KEY", "event_action": "resolve", "dedup_key": "meters-alert-12"}
    assert pagerduty_event({**ALERT, "action": "acknowledge"}, "KEY")["event_action"] == "acknowledge"
    body = servicenow_resolution({**ALERT, "resolved_by": "ops", "resolution_note": "T-7 replaced"})
    assert body["state"] == "6" and body["close_code"] and "ops" in body["close_notes"] and "T-7 replaced" in body["close_notes"]
