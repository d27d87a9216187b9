"""The audit trail's own retention: whole monthly partitions of audit.events past the window are dropped
by the shared retention job (meters/retention.py), each drop recorded in the trail itself.

Seven years by default (METERS_AUDIT_RETENTION_MONTHS), set apart from the readings' window: an
audit record must outlive the data it speaks of. Run by the service hosting AuditService (alert_svc).
"""

from collections.abc import Awaitable, Callable

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from meters.audit.writer import record_partition_drop
from meters.retention import RetentionJob
from meters.retention_window import RetentionWindow

TABLE = "audit.events"


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERS_AUDIT_", extra="ignore")

    retention_months: int = Field(84, ge=12, le=1200)
    retention_interval_s: float = Field(86_400.0, gt=0)


def job(dsn: str, settings: AuditSettings) -> RetentionJob:
    return RetentionJob(dsn, [TABLE], RetentionWindow(settings.retention_months), on_drop=record_partition_drop)


def background_task(dsn: str, settings: AuditSettings | None = None) -> Callable[[], Awaitable[None]]:
    settings = settings or AuditSettings()

    async def drop_expired_audit_partitions() -> None:
        await job(dsn, settings).run_forever(settings.retention_interval_s)

    return drop_expired_audit_partitions
