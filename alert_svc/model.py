"""Conversions between the API's enums/messages and the `alerts` schema's text columns."""



from meters.alert.v1 import alert_pb2 as apb
from meters.alert.v1 import alert_service_pb2 as spb
from meters.timestamps import to_proto


def enum_text(enum, value: int, prefix: str) -> str:
    """SEVERITY_CRITICAL -> "critical" (the plan's lower-case column values)."""
    return enum.Name(value).removeprefix(prefix).lower()


def text_enum(enum, text: str | None, prefix: str) -> int:
    return enum.Value(prefix + text.upper()) if text else 0


def severity_text(value: int) -> str:
    return enum_text(apb.Severity, value, "SEVERITY_")


def source_text(value: int) -> str:
    return enum_text(apb.AlertSource, value, "ALERT_SOURCE_")


def asset_type_text(value: int) -> str:
    return enum_text(apb.AssetType, value, "ASSET_TYPE_")


def status_text(value: int) -> str:
    return enum_text(apb.AlertStatus, value, "ALERT_STATUS_")


def channel_text(value: int) -> str:
    return enum_text(apb.NotificationChannel, value, "NOTIFICATION_CHANNEL_")


def severities_at_least(minimum: int) -> list[str]:
    return [severity_text(v) for v in apb.Severity.values() if v and v >= minimum]




def to_alert(row: dict) -> apb.Alert:
    """An `alerts.alerts` row (with its `notified_channels` array) as the API message."""
    return apb.Alert(
        name=f"alerts/{row['id']}", alert_id=row["id"], title=row["title"], description=row["description"],
        severity=text_enum(apb.Severity, row["severity"], "SEVERITY_"),
        status=text_enum(apb.AlertStatus, row["status"], "ALERT_STATUS_"),
        source=text_enum(apb.AlertSource, row["source"], "ALERT_SOURCE_"),
        confidence=row["confidence"] or 0.0,
        asset_type=text_enum(apb.AssetType, row["asset_type"], "ASSET_TYPE_"),
        asset_id=row["asset_id"] or 0, dedup_key=row["dedup_key"],
        detected_at=to_proto(row["detected_at"]), notified_at=to_proto(row["notified_at"]),
        notified_channels=[text_enum(apb.NotificationChannel, c, "NOTIFICATION_CHANNEL_")
                           for c in row["notified_channels"]],
        acknowledged_at=to_proto(row["acknowledged_at"]), acknowledged_by=row["acknowledged_by"] or "",
        resolved_at=to_proto(row["resolved_at"]), resolved_by=row["resolved_by"] or "",
        resolution_note=row["resolution_note"] or "", occurrences=row["occurrences"],
        last_seen_at=to_proto(row["last_seen_at"]), sequence=row["sequence"], labels=row["labels"],
        created_at=to_proto(row["created_at"]), updated_at=to_proto(row["updated_at"]),
    )


def change_of(row: dict) -> int:
    return spb.AlertChange.Value("ALERT_CHANGE_" + row["last_change"].upper())
