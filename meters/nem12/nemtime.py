"""NEM time (market time, UTC+10 all year, no daylight saving) to and from UTC Unix seconds.

Dates and times in an MDFF file are Date8 (YYYYMMDD), DateTime12 (YYYYMMDDhhmm) or DateTime14
(YYYYMMDDhhmmss), all in NEM time. Interval k (1-based) of a day of L-minute intervals ends at
00:00 + k*L NEM time, so interval 1 of 2024-01-01 at 30 minutes ends 2023-12-31T14:30:00Z.
"""

import datetime as dt
from functools import lru_cache

import numpy as np

NEM_OFFSET_S = 10 * 3600
NEM_TZ = dt.timezone(dt.timedelta(hours=10), "NEM")
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class BadDate(ValueError):
    """A date or date-time field that is not a valid Date8 / DateTime12 / DateTime14."""


@lru_cache(maxsize=65536)
def day_start_unix_s(date8: bytes) -> int:
    """UTC Unix seconds of 00:00 NEM time on a Date8 day (cached: a file holds few distinct days)."""
    if len(date8) != 8 or not date8.isdigit():
        raise BadDate(f"not a Date8 (YYYYMMDD): {date8[:20]!r}")
    try:
        day = dt.date(int(date8[:4]), int(date8[4:6]), int(date8[6:]))
    except ValueError as e:
        raise BadDate(f"not a calendar date: {date8.decode(errors='replace')}") from e
    return (day.toordinal() - _EPOCH_ORDINAL) * 86400 - NEM_OFFSET_S


@lru_cache(maxsize=16384)  # a file's 300s often share an UpdateDateTime
def datetime_unix_s(value: bytes) -> int:
    """UTC Unix seconds of a DateTime14 / DateTime12 (or a Date8) field in NEM time; 0 when blank.
    Surrounding spaces are tolerated (seen in NEM13 files)."""
    value = value.strip()
    if not value:
        return 0
    n = len(value)
    if n not in (8, 12, 14) or not value.isdigit():
        raise BadDate(f"not a DateTime14 (YYYYMMDDhhmmss): {value[:20].decode(errors='replace')}")
    hh, mm = (int(value[8:10]), int(value[10:12])) if n >= 12 else (0, 0)
    ss = int(value[12:14]) if n == 14 else 0
    if hh > 23 or mm > 59 or ss > 59:
        raise BadDate(f"not a time of day: {value.decode()}")
    return day_start_unix_s(value[:8]) + hh * 3600 + mm * 60 + ss


def to_nem_datetime14(unix_s: int) -> str:
    """DateTime14 in NEM time of UTC Unix seconds; blank for 0 (absent)."""
    if not unix_s:
        return ""
    return dt.datetime.fromtimestamp(unix_s, NEM_TZ).strftime("%Y%m%d%H%M%S")


def nem_date(unix_s: int) -> dt.date:
    """The NEM-time calendar day holding an instant."""
    return dt.datetime.fromtimestamp(unix_s, NEM_TZ).date()


def date8(day: dt.date) -> bytes:
    return day.strftime("%Y%m%d").encode()


@lru_cache(maxsize=64)
def interval_end_offsets_s(interval_minutes: int) -> np.ndarray:
    """Seconds from the day's start to the end of each interval (read-only, shared)."""
    step = interval_minutes * 60
    out = np.arange(step, 86400 + step, step, dtype=np.int64)
    out.setflags(write=False)
    return out


def interval_ends_unix_s(date8_value: bytes, interval_minutes: int) -> np.ndarray:
    """UTC Unix seconds of each interval end of one NEM day."""
    return interval_end_offsets_s(interval_minutes) + day_start_unix_s(date8_value)
