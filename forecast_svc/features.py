"""Calendar and weather features for Prophet: the scope's local clock, day-off flag (weekend or a
public holiday of the scope's state, from the `holidays` package), heating/cooling degrees."""

from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

STEP = pd.Timedelta(minutes=15)
# Degree-day bases: 18 degC is the usual heating base in Australia; cooling starts near 24 degC.
HEATING_BASE_C, COOLING_BASE_C = 18.0, 24.0


@lru_cache(maxsize=64)
def _holiday_calendar(region: str, years: tuple[int, ...]) -> holidays.HolidayBase:
    # The network follows national holidays only; a region adds its state's own days.
    return holidays.Australia(years=years, subdiv=region or None)


@lru_cache(maxsize=64)
def _holiday_days(region: str, years: tuple[int, ...]) -> np.ndarray:
    """The holidays of those years as datetime64[D]."""
    return np.array(sorted(_holiday_calendar(region, years)), dtype="datetime64[D]")


def public_holidays(region: str, dates) -> np.ndarray:
    """Whether each (naive, local) date is a public holiday of the region (national ones for "")."""
    days = pd.DatetimeIndex(dates).to_numpy().astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(int) + 1970
    return np.isin(days, _holiday_days(region, tuple(np.unique(years).tolist())))


def prophet_frame(ds_utc: pd.Series, timezone: str, region: str, temperature: np.ndarray | None) -> pd.DataFrame:
    """Prophet's input: ds = interval middle in local wall-clock time (load follows the local clock)."""
    local = (pd.DatetimeIndex(ds_utc) - STEP / 2).tz_convert(timezone)
    day_off = (local.day_of_week >= 5) | public_holidays(region, local.normalize().tz_localize(None))
    frame = pd.DataFrame({"ds": local.tz_localize(None), "day_off": day_off, "work_day": ~day_off,
                          "day_off_level": day_off.astype(float)})
    if temperature is not None:
        t = np.asarray(temperature, dtype=float)
        frame["hdd"] = np.clip(HEATING_BASE_C - t, 0, None)
        frame["cdd"] = np.clip(t - COOLING_BASE_C, 0, None)
    return frame


def temperature_outlook(history: pd.DataFrame, future_ds: pd.Series, profile: np.ndarray | None) -> np.ndarray:
    """Temperatures for future steps when no weather forecast is given: the mean of the same
    time of day over the last 3 days of history (persistence), else the model's stored profile."""
    slot = _slot(future_ds)
    if history is not None and "temperature_c" in history and history["temperature_c"].notna().any():
        tail = history.dropna(subset=["temperature_c"]).tail(3 * 96)
        temps = tail["temperature_c"].to_numpy(dtype=float)
        counts = np.bincount(_slot(tail["ds"]), minlength=96)
        sums = np.bincount(_slot(tail["ds"]), weights=temps, minlength=96)
        by_slot = np.where(counts > 0, sums / np.maximum(counts, 1), temps.mean())
        return by_slot[slot]
    return np.asarray(profile)[slot]


def diurnal_profile(history: pd.DataFrame) -> list[float]:
    """Mean temperature per UTC 15-minute slot over the last week: the fallback outlook."""
    tail = history.tail(7 * 96)
    prof = tail.groupby(_slot(tail["ds"]))["temperature_c"].mean().reindex(range(96))
    return prof.interpolate(limit_direction="both").round(3).tolist()


def _slot(ds) -> np.ndarray:
    """UTC 15-minute slot of the day (0..95) of each time."""
    seconds = pd.DatetimeIndex(ds).as_unit("s").asi8
    return (seconds % 86_400) // 900
