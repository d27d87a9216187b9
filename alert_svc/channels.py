"""Notification channels: the real payload of each (PagerDuty Events API v2, Teams Adaptive Card,
ServiceNow table API, SMTP email) and one `send` per channel. No gRPC, no database.

Each payload carries an idempotency key derived from the alert id ("meters-alert-<id>"):
PagerDuty's dedup_key, ServiceNow's correlation_id, the email Message-ID, so a receiver can
recognise a repeat if a crash ever makes the outbox send twice (a send is committed after it
succeeds: at-least-once). PagerDuty folds a repeated trigger into the open incident of its
dedup_key; mail stores and clients fold copies by Message-ID; ServiceNow's table API would make a
second incident, so an incident is first looked up by its correlation_id and only created when none
exists. A Teams webhook has no key: a crash between send and commit shows the card twice.

Follow-ups (the outbox row's `action`): PagerDuty gets acknowledge and resolve events on the same
dedup_key; ServiceNow's incident (by the sys_id its creation returned) is set to Resolved.
Teams and email are one-way notices and get no follow-up.

Escalation (alert_svc/escalation.py): a row of tier 2 or more is a new notice, with a key of its own
("meters-alert-tier<n>-<id>": a new PagerDuty incident that pages again, a new mail, a new ServiceNow
incident proposed as a major incident), a heading that says so, and email goes to
`escalation_email_to` (the duty manager) when set. Its follow-ups use the same key.
"""

import asyncio
import base64
import json
import smtplib
import urllib.parse
import urllib.request
from email.message import EmailMessage
from email.utils import format_datetime

from alert_svc.config import AlertSettings

PRODUCT = "meters-platform"


def _tier(alert: dict) -> int:
    return alert.get("tier") or 1


def idempotency_key(alert: dict) -> str:
    tier = _tier(alert)
    return f"meters-alert-{alert['id']}" if tier == 1 else f"meters-alert-tier{tier}-{alert['id']}"


def _asset(alert: dict) -> str:
    return f"{alert['asset_type']}/{alert['asset_id']}" if alert["asset_type"] else "network"


def _confidence(alert: dict) -> str:
    return f"{alert['confidence'] * 100:.0f}%" if alert["confidence"] is not None else "n/a"


def _heading(alert: dict) -> str:
    escalated = f"[ESCALATED tier {_tier(alert)}, unacknowledged] " if _tier(alert) > 1 else ""
    return f"[{alert['severity'].upper()}] {escalated}{alert['title']}"


def pagerduty_event(alert: dict, routing_key: str, console_url: str = "") -> dict:
    """PagerDuty Events API v2 event: trigger, or acknowledge / resolve (which carry no payload)."""
    action = alert.get("action", "trigger")
    if action != "trigger":
        return {"routing_key": routing_key, "event_action": action, "dedup_key": idempotency_key(alert)}
    event = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": idempotency_key(alert),
        "payload": {
            "summary": _heading(alert)[:1024] if _tier(alert) > 1 else alert["title"][:1024],
            "severity": alert["severity"],  # our three names are all valid PagerDuty severities
            "source": f"{PRODUCT}/{_asset(alert)}",
            "timestamp": alert["detected_at"].isoformat(),
            "component": alert["asset_type"] or "network",
            "group": alert["source"],
            "class": alert["source"],
            "custom_details": {"description": alert["description"], "confidence": _confidence(alert),
                               "alert": f"alerts/{alert['id']}", "escalation_tier": _tier(alert),
                               **alert["labels"]},
        },
    }
    if console_url:
        event["links"] = [{"href": console_url, "text": "Anomaly Tracker"}]
    return event


def teams_card(alert: dict, console_url: str = "") -> dict:
    """A Teams incoming-webhook (Workflows) message carrying one Adaptive Card."""
    facts = [{"title": "Asset", "value": _asset(alert)}, {"title": "Confidence", "value": _confidence(alert)},
             {"title": "Time", "value": alert["detected_at"].strftime("%Y-%m-%d %H:%M UTC")},
             {"title": "Source", "value": alert["source"]}, {"title": "Alert", "value": f"alerts/{alert['id']}"}]
    color = {"critical": "attention", "warning": "warning"}.get(alert["severity"], "default")
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": _heading(alert), "weight": "bolder", "size": "medium", "color": color,
             "wrap": True},
            {"type": "TextBlock", "text": alert["description"] or alert["title"], "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }
    if console_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": console_url}]
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def servicenow_incident(alert: dict) -> dict:
    """Body of POST /api/now/table/incident; an escalated alert's is proposed as a major incident."""
    major = {"major_incident_state": "proposed"} if _tier(alert) > 1 else {}
    return {**major,
        "short_description": _heading(alert)[:160],
        "description": f"{alert['description']}\n\nAsset: {_asset(alert)}\nConfidence: {_confidence(alert)}\n"
                       f"Detected: {alert['detected_at'].isoformat()}\nSource: {alert['source']}",
        "impact": "1", "urgency": "1",
        "category": "network",
        "correlation_id": idempotency_key(alert),
        "correlation_display": PRODUCT,
    }


# ServiceNow incident state 6 = Resolved; resolving requires a close code and notes.
SERVICENOW_RESOLVED = "6"
SERVICENOW_CLOSE_CODE = "Solution provided"


def servicenow_resolution(alert: dict) -> dict:
    """Body of PATCH /api/now/table/incident/<sys_id> when the alert is resolved."""
    by = f" by {alert['resolved_by']}" if alert.get("resolved_by") else ""
    return {"state": SERVICENOW_RESOLVED, "close_code": SERVICENOW_CLOSE_CODE,
            "close_notes": f"Resolved{by} in {PRODUCT}: {alert.get('resolution_note') or 'no note'}"}


def email_message(alert: dict, sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = _heading(alert)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(alert["detected_at"])
    msg["Message-ID"] = f"<{idempotency_key(alert)}@{PRODUCT}>"
    msg.set_content(f"{alert['description'] or alert['title']}\n\nAsset: {_asset(alert)}\n"
                    f"Confidence: {_confidence(alert)}\nDetected: {alert['detected_at'].isoformat()}\n"
                    f"Source: {alert['source']}\nAlert: alerts/{alert['id']}\n")
    return msg


def _send_json(url: str, body: dict | None, timeout_s: float, headers: dict[str, str] | None = None,
               method: str = "POST") -> dict:
    """Send JSON (none for a GET) and return the JSON reply ({} if none); a non-2xx status or network error raises."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", "Accept": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        reply = resp.read()
    try:
        return json.loads(reply) if reply else {}
    except ValueError:
        return {}


def _addresses(value: str) -> list[str]:
    return [r.strip() for r in value.split(",") if r.strip()]


class Channels:
    """The configured channels and how to send an alert to each."""

    def __init__(self, settings: AlertSettings):
        self._s = settings
        self._recipients = _addresses(settings.email_to)
        self._escalation_recipients = _addresses(settings.escalation_email_to) or self._recipients

    @property
    def enabled(self) -> frozenset[str]:
        s = self._s
        on = {"pagerduty": bool(s.pagerduty_url and s.pagerduty_routing_key), "teams": bool(s.teams_webhook_url),
              "servicenow": bool(s.servicenow_url), "email": bool(s.smtp_host and self._recipients)}
        return frozenset(name for name, ok in on.items() if ok)

    async def send(self, channel: str, alert: dict) -> str | None:
        """Deliver the outbox row `alert` (an alert plus its `action`); return the channel's id for it, if any."""
        return await asyncio.to_thread(getattr(self, f"_send_{channel}"), alert)

    def _send_pagerduty(self, alert: dict) -> None:
        _send_json(self._s.pagerduty_url, pagerduty_event(alert, self._s.pagerduty_routing_key, self._s.console_url),
                   self._s.notify_timeout_s)

    def _send_teams(self, alert: dict) -> None:
        _send_json(self._s.teams_webhook_url, teams_card(alert, self._s.console_url), self._s.notify_timeout_s)

    def _send_servicenow(self, alert: dict) -> str | None:
        auth = base64.b64encode(f"{self._s.servicenow_user}:{self._s.servicenow_password}".encode()).decode()
        headers = {"Authorization": f"Basic {auth}"}
        table = self._s.servicenow_url.rstrip("/") + "/api/now/table/incident"
        if alert.get("action", "trigger") == "trigger":
            # An incident made by a send whose commit a crash lost: use it rather than open a second one.
            query = urllib.parse.urlencode({"sysparm_query": f"correlation_id={idempotency_key(alert)}",
                                            "sysparm_fields": "sys_id", "sysparm_limit": "1"})
            found = _send_json(f"{table}?{query}", None, self._s.notify_timeout_s, headers, method="GET")
            if found.get("result"):
                return found["result"][0]["sys_id"]
            reply = _send_json(table, servicenow_incident(alert), self._s.notify_timeout_s, headers)
            return (reply.get("result") or {}).get("sys_id")
        if not alert.get("external_id"):
            raise RuntimeError(f"no ServiceNow sys_id recorded for alert {alert['id']}: cannot resolve its incident")
        _send_json(f"{table}/{alert['external_id']}", servicenow_resolution(alert), self._s.notify_timeout_s, headers,
                   method="PATCH")
        return None

    def _send_email(self, alert: dict) -> None:
        s = self._s
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.notify_timeout_s) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            recipients = self._recipients if _tier(alert) == 1 else self._escalation_recipients
            smtp.send_message(email_message(alert, s.email_from, recipients))
