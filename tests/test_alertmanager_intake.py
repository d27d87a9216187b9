"""Alertmanager webhook notifications as platform alerts: the mapping of a group, the payloads refused
with their reason, and the webhook's answers (authentication, 400 on bad bodies) without a network."""

import datetime as dt
import json

import pytest

from alert_svc import alertmanager_intake as intake
from alert_svc import alertmanager_webhook as webhook
from alert_svc.config import AlertSettings


def member(name="MetersServiceDown", severity="critical", status="firing", start="2026-12-07T05:59:30.123456789Z",
           **labels) -> dict:
    return {"status": status, "labels": {"alertname": name, "severity": severity, **labels},
            "annotations": {"summary": f"{name} summary", "description": f"{name} description"},
            "startsAt": start, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom/graph",
            "fingerprint": "0123456789abcdef"}


def notification(*alerts, status="firing", group_key='{}:{alertname="MetersServiceDown"}') -> dict:
    return {"version": "4", "groupKey": group_key, "truncatedAlerts": 0, "status": status, "receiver": "alert-svc",
            "groupLabels": {"alertname": "MetersServiceDown"}, "commonLabels": {"alertname": "MetersServiceDown"},
            "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093", "alerts": list(alerts)}


def test_a_group_of_one_is_its_alert():
    notice = intake.parse(notification(member(service="ingest")))
    alert = notice.alert
    assert notice.status == "firing"
    assert (alert.title, alert.severity, alert.source) == ("MetersServiceDown summary", "critical", "platform")
    assert alert.detected_at == dt.datetime(2026, 12, 7, 5, 59, 30, 123456, tzinfo=dt.UTC)
    assert alert.description == "MetersServiceDown description\nAlertmanager: http://127.0.0.1:9093"
    assert alert.labels["alertname"] == "MetersServiceDown" and alert.labels["alertmanager_receiver"] == "alert-svc"
    assert alert.asset_type is None and alert.asset_id is None


def test_a_group_of_several_is_one_alert_at_its_highest_severity_and_first_start():
    notice = intake.parse(notification(
        member(severity="warning", start="2026-12-07T06:00:00Z", service="scoring"),
        member(severity="critical", start="2026-12-07T05:00:00+00:00", service="ingest"),
        member(severity="info", start="2026-12-07T04:00:00Z", status="resolved", service="alert")))
    alert = notice.alert
    assert alert.severity == "critical"  # among the firing ones; the resolved member is left out
    assert alert.detected_at == dt.datetime(2026, 12, 7, 5, tzinfo=dt.UTC)
    assert alert.title == "MetersServiceDown: 2 alerts firing"
    assert alert.description.count("- MetersServiceDown summary") == 2


def test_the_dedup_key_is_the_group_and_fits_the_column():
    key = '{}/{severity="critical"}:{alertname="' + "x" * 2000 + '"}'
    a = intake.parse(notification(member(), group_key=key)).alert.dedup_key
    b = intake.parse(notification(member(severity="warning"), member(), group_key=key)).alert.dedup_key
    other = intake.parse(notification(member(), group_key=key + "y")).alert.dedup_key
    assert a == b != other and a.startswith("alertmanager/") and len(a) <= 500


def test_unknown_or_missing_severity_counts_as_warning():
    assert intake.severity_of([{"severity": "page"}, {}]) == "warning"
    assert intake.severity_of([{"severity": "info"}]) == "info"
    assert intake.parse(notification(member(severity="page"))).alert.severity == "warning"


def test_a_resolved_group_keeps_its_key():
    firing = intake.parse(notification(member()))
    resolved = intake.parse(notification(member(status="resolved"), status="resolved"))
    assert resolved.status == "resolved" and resolved.alert.dedup_key == firing.alert.dedup_key


@pytest.mark.parametrize("payload, reason", [
    ([], '"version" must be "4"'),
    ({**notification(member()), "version": "3"}, '"version" must be "4"'),
    ({**notification(member()), "groupKey": ""}, "groupKey is required"),
    ({**notification(member()), "status": "pending"}, "status must be firing or resolved"),
    ({**notification(member()), "alerts": []}, "alerts must be a non-empty list"),
    (notification("not an alert"), "alerts[0] must be an object"),
    (notification({**member(), "status": "active"}), "alerts[0].status must be firing or resolved"),
    (notification({**member(), "labels": {"severity": 3}}), "alerts[0].labels must be an object of strings"),
    (notification(member(), {**member(), "startsAt": "yesterday"}), "alerts[1].startsAt: not an RFC 3339 time"),
    (notification({**member(), "startsAt": "2026-12-07T05:59:30"}), "alerts[0].startsAt: a time zone is required"),
    ({**notification(member()), "commonLabels": ["a"]}, "commonLabels must be an object of strings"),
])
def test_bad_payloads_are_refused_with_their_reason(payload, reason):
    with pytest.raises(intake.BadPayload, match=reason.replace("[", r"\[").replace("]", r"\]")):
        intake.parse(payload)


@pytest.fixture
def auth(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    return webhook.Authenticator(AlertSettings(alertmanager_token_file=str(token), alertmanager_client_cns="am"))


def _never(notice, actor):
    raise AssertionError("must not reach the store")


def test_webhook_refuses_without_token_or_with_a_wrong_one(auth):
    body = json.dumps(notification(member())).encode()
    assert webhook.handle(auth, _never, "", None, body)[0] == 401
    assert webhook.handle(auth, _never, "Bearer wrong", None, body)[0] == 401
    other_cn = {"subject": ((("commonName", "scoring"),),)}
    assert webhook.handle(auth, _never, "", other_cn, body)[0] == 401


def test_webhook_lets_in_the_token_or_an_allowed_certificate(auth):
    seen = []
    body = json.dumps(notification(member())).encode()

    def run(notice, actor):
        seen.append(actor)
        return "raised", 7

    assert webhook.handle(auth, run, "Bearer s3cret", None, body) == (200, {"outcome": "raised", "alert": "alerts/7"})
    assert webhook.handle(auth, run, "", {"subject": ((("commonName", "am"),),)}, body)[0] == 200
    assert [(a.subject, a.via) for a in seen] == [("alertmanager", "token"), ("cert:am", "certificate")]


@pytest.mark.parametrize("body", [b"", b"{not json", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000,
                                  json.dumps({"version": "4"}).encode()])
def test_webhook_answers_a_bad_body_400_with_a_reason(auth, body):
    status, answer = webhook.handle(auth, _never, "Bearer s3cret", None, body)
    assert status == 400 and answer["error"].startswith("bad payload: ")


def test_webhook_answers_500_when_the_store_fails(auth):
    def broken(notice, actor):
        raise OSError("database gone")

    body = json.dumps(notification(member())).encode()
    assert webhook.handle(auth, broken, "Bearer s3cret", None, body)[0] == 500


def test_webhook_needs_a_way_in_and_a_non_empty_token(tmp_path):
    with pytest.raises(ValueError, match="needs METERS_ALERTMANAGER_TOKEN_FILE"):
        webhook.Authenticator(AlertSettings())
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        webhook.Authenticator(AlertSettings(alertmanager_token_file=str(tmp_path / "empty")))
