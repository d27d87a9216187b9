"""How far back readings are kept: one definition for ingest validation, the writer and the retention job.

The window is whole calendar months back from now (24 by default, the plan's AEMO requirement);
an optional oldest date (e.g. the day the meters went live) bounds it further for ingest.
`METERS_RETENTION_MONTHS`, `METERS_OLDEST_READING_DATE`, `METERS_RETENTION_INTERVAL_S`.
"""

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DAY_S = 86_400


class RetentionSettings(BaseSettings):
    """Mixed into each service's settings; read from the same METERS_* variables everywhere."""

    model_config = SettingsConfigDict(env_prefix="METERS_", extra="ignore")

    retention_months: int = Field(24, ge=1, le=1200)
    oldest_reading_date: date | None = None
    # How often each service's retention job looks for partitions past the window.
    retention_interval_s: float = Field(3600.0, gt=0)

    @property
    def retention_window(self) -> "RetentionWindow":
        return RetentionWindow(self.retention_months, self.oldest_reading_date)


@dataclass(frozen=True)
class RetentionWindow:
    months: int = 24
    oldest_date: date | None = None

    def start_s(self, now_s: int) -> int:
        """The oldest reading time kept: `months` calendar months before now (day clamped: Mar 31 -> Feb 28)."""
        now = datetime.fromtimestamp(now_s, UTC)
        total = now.year * 12 + now.month - 1 - self.months
        year, month = divmod(total, 12)
        day = min(now.day, calendar.monthrange(year, month + 1)[1])
        return int(now.replace(year=year, month=month + 1, day=day).timestamp())

    @property
    def oldest_s(self) -> int | None:
        """Unix seconds of the configured oldest date (00:00 UTC), or None."""
        if self.oldest_date is None:
            return None
        return int(datetime(self.oldest_date.year, self.oldest_date.month, self.oldest_date.day, tzinfo=UTC).timestamp())

    def drop_before(self, now_s: int) -> datetime:
        """Partitions ending at or before this instant are past the window and may be dropped.

        The day holding the window's edge is kept, and so is the day before it: a writer whose clock
        lags the job's by up to a day (or straddles midnight) never meets a partition already dropped.
        """
        edge_day = self.start_s(now_s) // DAY_S * DAY_S
        return datetime.fromtimestamp(edge_day, UTC) - timedelta(days=1)
