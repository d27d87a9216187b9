"""Forecast weather for the horizon: rows (timestamp, temperature_c[, ...]) at any spacing, put on the
forecast's steps by linear interpolation in time at each step's middle. A step with no weather row
within the file's own spacing (at least one step) of its middle is a gap: WeatherGap names the
steps. Only temperature_c is used; other columns are ignored."""

import numpy as np
import pandas as pd

from forecast_svc.intervals import Clock, SeriesError, parse_times

TEMPERATURE = "temperature_c"


class WeatherGap(SeriesError):
    """The weather forecast does not cover every step of the horizon."""


def read_weather(raw: pd.DataFrame, clock: Clock) -> pd.Series:
    """temperature_c by UTC instant (timestamps without an offset are read in clock's zone)."""
    for column in ("timestamp", TEMPERATURE):
        if column not in raw:
            raise SeriesError(f"weather needs a {column!r} column (has {', '.join(raw.columns)})")
    times = parse_times(raw["timestamp"], clock)
    temps = pd.Series(pd.to_numeric(raw[TEMPERATURE], errors="coerce").to_numpy(), index=times)
    return temps[~temps.index.isna()].dropna().sort_index().groupby(level=0).mean()


def on_steps(weather: pd.Series, ends: pd.DatetimeIndex, step: pd.Timedelta) -> np.ndarray:
    """Temperature at the middle of each step (interval ends `ends`); WeatherGap if any is uncovered."""
    if weather.empty:
        raise WeatherGap("the weather file has no temperature_c values")
    values, gap, tolerance = _interpolate(weather, ends, step)
    if gap.any():
        bad = ends[gap]
        raise WeatherGap(
            f"the weather does not cover the horizon: {int(gap.sum())} of {len(ends)} steps (interval ends "
            f"{bad[0]:%Y-%m-%dT%H:%MZ} to {bad[-1]:%Y-%m-%dT%H:%MZ}) have no temperature_c within "
            f"{tolerance / 60e9:.0f} min of their middle; the file covers "
            f"{weather.index[0]:%Y-%m-%dT%H:%MZ} to {weather.index[-1]:%Y-%m-%dT%H:%MZ}")
    return values


def at_steps(weather: pd.Series, ends: pd.DatetimeIndex, step: pd.Timedelta) -> np.ndarray:
    """As on_steps, with NaN at the steps it does not cover (observed weather for a history)."""
    if weather.empty:
        return np.full(len(ends), np.nan)
    values, gap, _ = _interpolate(weather, ends, step)
    values[gap] = np.nan
    return values


def _interpolate(weather: pd.Series, ends: pd.DatetimeIndex, step: pd.Timedelta) -> tuple[np.ndarray, np.ndarray, int]:
    """(values at the steps' middles, steps with no value within the tolerance, tolerance in ns)."""
    middles = (ends - step / 2).as_unit("ns")
    known = weather.index.as_unit("ns").asi8
    spacing = np.median(np.diff(known)) if len(known) > 1 else 0
    tolerance = max(spacing, pd.Timedelta(step).as_unit("ns").value)
    pos = np.searchsorted(known, middles.asi8)
    before = np.abs(middles.asi8 - known[np.clip(pos - 1, 0, len(known) - 1)])
    after = np.abs(known[np.clip(pos, 0, len(known) - 1)] - middles.asi8)
    gap = np.minimum(before, after) > tolerance
    return np.interp(middles.asi8, known, weather.to_numpy(float)), gap, tolerance
