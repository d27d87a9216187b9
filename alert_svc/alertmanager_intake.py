"""Alertmanager's webhook notification (payload version 4) as one platform alert per alert group.

Alertmanager groups the alerts of a route by its `group_by` labels and notifies per group; the group
is what an operator should see once (as an outage raises one alert, not one per meter). The group's
platform alert has dedup_key `alertmanager/<hash of the groupKey>`:

- status `firing`: raised with the group's highest severity, unless the group already has an
  unresolved alert; Alertmanager's re-sends (repeat_interval, a member joining or leaving, a retry
  after a failed delivery) change nothing and write nothing;
- status `resolved` (every alert of the group resolved in Prometheus): the group's alert is resolved;
  if there is none (never seen, or resolved by a person already) nothing happens.

A group that fires again after being resolved raises a new alert. Each raise and resolve commits
with its audit row (AlertStore.create / resolve take the Change); the actor is the authenticated
sender. `parse` checks the whole payload before `apply` changes anything, so a bad payload changes
nothing.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass

from prometheus_client import Counter

from alert_svc import metrics
from alert_svc.routing import channels_for
from alert_svc.store import AlertStore, NewAlert
from meters.audit import Actor, Change
from meters.errors import DomainError

SOURCE = "platform"
METHOD = "alert.alertmanager_webhook"  # the audit trail's method (service "alert")
SEVERITIES = ("info", "warning", "critical")  # ascending
DEFAULT_SEVERITY = "warning"
RESOLVED_BY = "alertmanager"
MAX_DESCRIPTION = 4000
NOTIFICATIONS = Counter("meters_alertmanager_notifications_total",
                        "Alert groups received from Alertmanager's webhook, by group status and what was done "
                        "(raised, unchanged, resolved, unknown).", ["status", "outcome"])


class BadPayload(ValueError):
    """The request is not an Alertmanager webhook notification; the message says what is wrong."""


@dataclass(frozen=True)
class GroupNotice:
    status: str  # firing or resolved
    alert: NewAlert  # what the group's platform alert is (raised with) when firing


def _time(text, where: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise BadPayload(f"{where}.startsAt: not an RFC 3339 time: {str(text)[:40]!r}") from None
    if when.tzinfo is None:
        raise BadPayload(f"{where}.startsAt: a time zone is required")
    return when


def _strings(value, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise BadPayload(f"{where} must be an object of strings")
    return dict(value)


def _member(item, where: str) -> tuple[str, dict[str, str], dict[str, str], dt.datetime]:
    if not isinstance(item, dict):
        raise BadPayload(f"{where} must be an object")
    if item.get("status") not in ("firing", "resolved"):
        raise BadPayload(f"{where}.status must be firing or resolved")
    return (item["status"], _strings(item.get("labels"), f"{where}.labels"),
            _strings(item.get("annotations"), f"{where}.annotations"), _time(item.get("startsAt"), where))


def severity_of(labels: list[dict[str, str]]) -> str:
    """The highest `severity` label among the alerts (an unknown or missing one counts as warning)."""
    found = [lab.get("severity") if lab.get("severity") in SEVERITIES else DEFAULT_SEVERITY for lab in labels]
    return max(found or [DEFAULT_SEVERITY], key=SEVERITIES.index)


def dedup_key(group_key: str) -> str:
    return "alertmanager/" + hashlib.sha256(group_key.encode()).hexdigest()[:32]


def parse(payload) -> GroupNotice:
    """One webhook notification as its group's notice; BadPayload names the first thing wrong."""
    if not isinstance(payload, dict) or payload.get("version") != "4":
        raise BadPayload('not an Alertmanager webhook notification: "version" must be "4"')
    group_key, status = payload.get("groupKey"), payload.get("status")
    if not isinstance(group_key, str) or not group_key:
        raise BadPayload("groupKey is required")
    if status not in ("firing", "resolved"):
        raise BadPayload("status must be firing or resolved")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise BadPayload("alerts must be a non-empty list")
    members = [_member(item, f"alerts[{i}]") for i, item in enumerate(alerts)]
    common_labels = _strings(payload.get("commonLabels"), "commonLabels")
    common = _strings(payload.get("commonAnnotations"), "commonAnnotations")
    group_labels = _strings(payload.get("groupLabels"), "groupLabels")
    firing = [m for m in members if m[0] == "firing"] or members
    name = group_labels.get("alertname") or common_labels.get("alertname") or "Prometheus alerts"
    if len(firing) == 1:
        title = firing[0][2].get("summary") or firing[0][1].get("alertname") or name
    else:
        title = common.get("summary") or f"{name}: {len(firing)} alerts firing"
    if len(firing) == 1:  # the title is its summary already
        lines = [firing[0][2].get("description", "")]
    else:
        lines = [" ".join(filter(None, ["-", m[2].get("summary") or m[1].get("alertname"), m[2].get("description")]))
                 for m in firing]
    external = payload.get("externalURL") if isinstance(payload.get("externalURL"), str) else ""
    description = "\n".join(filter(None, [*lines, f"Alertmanager: {external}" if external else ""]))[:MAX_DESCRIPTION]
    return GroupNotice(status, NewAlert(
        title=title[:200], description=description, severity=severity_of([m[1] for m in firing]), source=SOURCE,
        confidence=None, asset_type=None, asset_id=None, dedup_key=dedup_key(group_key),
        detected_at=min(m[3] for m in firing),
        labels={**common_labels, "alertmanager_receiver": str(payload.get("receiver", ""))[:200]}))


async def _unresolved_id(store: AlertStore, key: str) -> int | None:
    try:
        return await store.unresolved_id(key)
    except DomainError:  # NOT_FOUND: none unresolved
        return None


async def apply(store: AlertStore, enabled: frozenset[str], notice: GroupNotice, actor: Actor) -> tuple[str, int]:
    """Raise or resolve the group's alert: (outcome, alert id or 0)."""
    alert = notice.alert
    existing = await _unresolved_id(store, alert.dedup_key)
    if notice.status == "firing":
        if existing is not None:
            outcome, alert_id = "unchanged", existing
        else:
            change = Change("alerts", "create", actor=actor, method=METHOD)
            row, created = await store.create(alert, channels_for(alert.severity, enabled), change)
            outcome, alert_id = ("raised" if created else "unchanged"), row["id"]
            if created:
                metrics.ALERTS_RAISED.labels(alert.severity, SOURCE).inc()
    elif existing is None:
        outcome, alert_id = "unknown", 0  # never raised, or resolved already (by a person or a re-send)
    else:
        change = Change(f"alerts/{existing}", "resolve", actor=actor, method=METHOD)
        try:
            row = await store.resolve(existing, RESOLVED_BY, "resolved in Prometheus (Alertmanager)", change)
            outcome, alert_id = "resolved", existing
            metrics.ALERTS_RESOLVED.labels(row["severity"]).inc()
        except DomainError:  # resolved by someone else since the look-up
            outcome, alert_id = "unknown", existing
    NOTIFICATIONS.labels(notice.status, outcome).inc()
    return outcome, alert_id
