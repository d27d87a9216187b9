"""Interval series from CSV: the step inferred from the timestamps (5, 15, 30 or 60 minutes), labels
as interval starts or ends, clocks without an offset read as UTC, NEM time (UTC+10 all year, no
daylight saving: the clock of the National Electricity Market and of most Australian meters) or a
named zone.

Inside the forecaster every step is keyed by its interval END in UTC (`ds`), on a full regular grid
(missing steps NaN). Duplicate labels (a meter's DST glitch, a re-sent row) keep the last row."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

STEPS_MINUTES = (5, 15, 30, 60)
CONVENTIONS = ("end", "start")
NEM = "nem"
NEM_ZONE = "Etc/GMT-10"  # POSIX sign: UTC+10, no daylight saving


class SeriesError(ValueError):
    """A history or weather file that cannot be forecast from, with what is wrong."""


@dataclass(frozen=True)
class Clock:
    """How a file's timestamps are labelled."""
    convention: str = "end"  # "end": a label is the end of its interval; "start": its start
    tz: str = "utc"  # zone of labels without an offset: "utc", "nem" or an IANA name

    @property
    def zone(self) -> str:
        return {"utc": "UTC", NEM: NEM_ZONE}.get(self.tz.lower(), self.tz)


def parse_times(values, clock: Clock) -> pd.DatetimeIndex:
    """Labels -> UTC instants; labels with an offset keep theirs, the others are read in clock.zone."""
    text = pd.Series(values).astype(str)
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    if has_offset.all():
        return pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601"))
    if has_offset.any():
        raise SeriesError("timestamps mix labels with and without a UTC offset")
    naive = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601"))
    try:
        return naive.tz_localize(clock.zone, ambiguous="NaT", nonexistent="NaT").tz_convert("UTC")
    except Exception as e:  # an unknown zone name
        raise SeriesError(f"unknown time zone {clock.tz!r}: use utc, nem or an IANA name") from e


def infer_step(ends: pd.DatetimeIndex) -> pd.Timedelta:
    """The most common spacing of the labels; one of STEPS_MINUTES or SeriesError."""
    diffs = np.diff(np.unique(ends.dropna().as_unit("s").asi8)) // 60
    if not len(diffs):
        raise SeriesError("need at least two timestamps to tell the interval length")
    values, counts = np.unique(diffs, return_counts=True)
    minutes = int(values[np.argmax(counts)])
    if minutes not in STEPS_MINUTES:
        raise SeriesError(f"interval length {minutes} min: supported are {', '.join(map(str, STEPS_MINUTES))} min")
    return pd.Timedelta(minutes=minutes)


def interval_ends(labels: pd.DatetimeIndex, clock: Clock, step: pd.Timedelta) -> pd.DatetimeIndex:
    if clock.convention not in CONVENTIONS:
        raise SeriesError(f"timestamps must be 'end' or 'start', not {clock.convention!r}")
    return labels + step if clock.convention == "start" else labels


def regular(frame: pd.DataFrame, step: pd.Timedelta) -> pd.DataFrame:
    """frame (ds, ...) on a full grid of `step` from its first to its last ds, sorted, missing NaN."""
    s = frame.dropna(subset=["ds"]).sort_values("ds").drop_duplicates("ds", keep="last").set_index("ds")
    grid = pd.date_range(s.index[0], s.index[-1], freq=step)
    return s.reindex(grid).rename_axis("ds").reset_index()


def read_history(raw: pd.DataFrame, clock: Clock) -> tuple[pd.DataFrame, pd.Timedelta]:
    """CSV rows (timestamp, value[, weather columns]) -> (regular frame ds, y[, ...], step)."""
    for column in ("timestamp", "value"):
        if column not in raw:
            raise SeriesError(f"history needs a {column!r} column (has {', '.join(raw.columns)})")
    labels = parse_times(raw["timestamp"], clock)
    step = infer_step(labels)
    frame = raw.drop(columns=["timestamp", "value"]).apply(pd.to_numeric, errors="coerce")
    frame.insert(0, "y", pd.to_numeric(raw["value"], errors="coerce").to_numpy())
    frame.insert(0, "ds", interval_ends(labels, clock, step))
    return regular(frame, step), step


def format_labels(ends: pd.DatetimeIndex, clock: Clock, step: pd.Timedelta) -> list[str]:
    """Interval ends -> labels in the input's convention, with their offset (Z for UTC)."""
    labels = ends - step if clock.convention == "start" else ends
    if clock.zone == "UTC":
        return list(labels.strftime("%Y-%m-%dT%H:%M:%SZ"))
    local = labels.tz_convert(clock.zone)
    return [t.isoformat() for t in local]
