"""Request checks and translation into store inputs; every bad field is reported at once."""

import datetime as dt

from alert_svc import model
from alert_svc.store import AlertFilter, NewAlert
from meters.alert.v1 import alert_pb2 as apb
from meters.errors import FieldViolation, invalid_argument


def _valid_enum(enum, value: int) -> bool:
    return value in enum.values() and value != 0


def new_alert(alert: apb.Alert, now: dt.datetime) -> NewAlert:
    bad = []
    if not alert.title.strip():
        bad.append(FieldViolation("alert.title", "required"))
    elif len(alert.title) > 200:
        bad.append(FieldViolation("alert.title", "at most 200 characters"))
    if not _valid_enum(apb.Severity, alert.severity):
        bad.append(FieldViolation("alert.severity", "required: SEVERITY_INFO, SEVERITY_WARNING or SEVERITY_CRITICAL"))
    if not _valid_enum(apb.AlertSource, alert.source):
        bad.append(FieldViolation("alert.source", "required: one of the AlertSource values"))
    if not 0.0 <= alert.confidence <= 1.0:
        bad.append(FieldViolation("alert.confidence", "must be between 0 and 1"))
    if alert.asset_type not in apb.AssetType.values():
        bad.append(FieldViolation("alert.asset_type", "unknown asset type"))
    if alert.asset_id < 0:
        bad.append(FieldViolation("alert.asset_id", "must not be negative"))
    if alert.asset_id and not alert.asset_type:
        bad.append(FieldViolation("alert.asset_type", "required when asset_id is set"))
    if len(alert.dedup_key) > 500:
        bad.append(FieldViolation("alert.dedup_key", "at most 500 characters"))
    if bad:
        raise invalid_argument("invalid alert", *bad)
    source = model.source_text(alert.source)
    asset_type = model.asset_type_text(alert.asset_type) if alert.asset_type else None
    title = alert.title.strip()
    return NewAlert(
        title=title, description=alert.description, severity=model.severity_text(alert.severity), source=source,
        confidence=alert.confidence or None,
        asset_type=asset_type, asset_id=alert.asset_id if asset_type else None,
        dedup_key=alert.dedup_key or f"{source}/{asset_type or 'none'}/{alert.asset_id}/{title}",
        detected_at=alert.detected_at.ToDatetime(dt.timezone.utc) if alert.HasField("detected_at") else now,
        labels=dict(alert.labels),
    )


def _enum_filter(enum, value: int, field: str, text) -> str | None:
    if value not in enum.values():
        raise invalid_argument(f"unknown {field}", FieldViolation(field, "unknown value"))
    return text(value) if value else None


def alert_filter(req, severity_field: str) -> AlertFilter:
    """The filters shared by ListAlertsRequest and WatchAlertsRequest."""
    flt = AlertFilter(
        source=_enum_filter(apb.AlertSource, req.source, "source", model.source_text),
        asset_type=_enum_filter(apb.AssetType, req.asset_type, "asset_type", model.asset_type_text),
        asset_id=req.asset_id,
    )
    severity = getattr(req, severity_field)
    _enum_filter(apb.Severity, severity, severity_field, model.severity_text)
    if severity:
        flt.severities = ([model.severity_text(severity)] if severity_field == "severity"
                          else model.severities_at_least(severity))
    if req.asset_id < 0:
        raise invalid_argument("asset_id must not be negative", FieldViolation("asset_id", "must be >= 0"))
    if req.asset_id and not req.asset_type:
        raise invalid_argument("asset_id needs asset_type", FieldViolation("asset_type", "required with asset_id"))
    return flt


def list_filter(req) -> AlertFilter:
    flt = alert_filter(req, "severity")
    flt.status = _enum_filter(apb.AlertStatus, req.status, "status", model.status_text)
    if req.HasField("start_time"):
        flt.start = req.start_time.ToDatetime(dt.timezone.utc)
    if req.HasField("end_time"):
        flt.end = req.end_time.ToDatetime(dt.timezone.utc)
    if flt.start and flt.end and flt.end <= flt.start:
        raise invalid_argument("the time range is empty", FieldViolation("end_time", "must be after start_time"))
    return flt
