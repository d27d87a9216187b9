"""Features of the lag model (gbm.py) for the steps after a forecast origin, at any step length.

For a target step t forecast from origin o (the first step not known; lead h = t - o, lead day
d = h // steps_per_day + 1) every lag is a step before o: the same slot d days back (the most
recent day known), d + 1 days back, a week and two weeks back, the 4-week same-slot mean, the
7-day same-slot mean; the level of the last day and week before o. Demand lags and the target
are divided by the series' mean |demand| over the week before o, so one model serves a series
whose level drifts with the seasons. Calendar on the series' local clock: time of day, weekday,
day off (weekend or a public holiday of the calendar's country and state, `holidays` package),
holiday, day off of the lagged day, day of year. Weather, when the series has it: temperature at
t, its change since the lagged day's same slot, and the target day's mean and maximum."""

from dataclasses import dataclass
from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

DAYS_BACK = 28  # the furthest lag: 4 weeks


@dataclass(frozen=True)
class Calendar:
    zone: str = "Australia/Sydney"  # local clock the load follows
    country: str = "AU"
    subdiv: str = ""  # state ("NSW"); "" = national holidays only


@lru_cache(maxsize=64)
def _holiday_days(country: str, subdiv: str, years: tuple[int, ...]) -> np.ndarray:
    days = holidays.country_holidays(country, subdiv=subdiv or None, years=years)
    return np.array(sorted(days), dtype="datetime64[D]")


def calendar_frame(ends: pd.DatetimeIndex, step: pd.Timedelta, cal: Calendar) -> pd.DataFrame:
    """Per step (interval end, UTC): local time of day in hours, weekday, day of year, holiday, day off."""
    local = (ends - step / 2).tz_convert(cal.zone)
    days = local.tz_localize(None).normalize().to_numpy().astype("datetime64[D]")
    years = tuple(np.unique(days.astype("datetime64[Y]").astype(int) + 1970).tolist())
    holiday = np.isin(days, _holiday_days(cal.country, cal.subdiv, years))
    dow = local.day_of_week.to_numpy()
    return pd.DataFrame({"hour": local.hour.to_numpy() + local.minute.to_numpy() / 60, "dow": dow,
                         "doy": local.day_of_year.to_numpy(), "holiday": holiday.astype(float),
                         "day_off": ((dow >= 5) | holiday).astype(float), "day": days})


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[index] with NaN where index < 0 or past the end."""
    ok = (index >= 0) & (index < len(values))
    out = np.full(index.shape, np.nan)
    out[ok] = values[index[ok]]
    return out


def _nanmean(stack: list[np.ndarray]) -> np.ndarray:
    s = np.stack(stack)
    n = np.sum(~np.isnan(s), axis=0)
    return np.where(n > 0, np.nansum(s, axis=0) / np.maximum(n, 1), np.nan)


def level_scale(y: np.ndarray, origins: np.ndarray, spd: int) -> np.ndarray:
    """Mean |y| over the week before each origin (else all before it; else 1)."""
    out = np.ones(len(origins))
    a = np.abs(y)
    for i, o in enumerate(origins):
        w = a[max(0, o - 7 * spd):o]
        w = w[~np.isnan(w)]
        if len(w) < spd:
            w = a[:o][~np.isnan(a[:o])]
        if len(w) and np.mean(w) > 1e-9:
            out[i] = np.mean(w)
    return out


def design(y: np.ndarray, cal: pd.DataFrame, temps: np.ndarray | None, origins: np.ndarray, steps: int,
           spd: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(features, scale per row, target index per row) for every origin x lead 0..steps-1.

    y: demand on the grid (NaN unknown; values at or after an origin are never read for its rows);
    cal: calendar_frame over the grid extended by the horizon; temps: temperature on that grid."""
    lead = np.arange(steps)
    t = origins[:, None] + lead[None, :]
    d = lead // spd + 1
    scale = level_scale(y, origins, spd)
    s = scale[:, None]

    def lag(days_back) -> np.ndarray:
        return _take(y, t - days_back * spd) / s

    weekly = [lag(7 * (k + 1 + (d - 1) // 7)) for k in range(4)]
    f = {
        "lag_d": lag(d), "lag_d1": lag(d + 1), "lag_w": weekly[0], "lag_2w": weekly[1],
        "mean_4w": _nanmean(weekly), "mean_7d": _nanmean([lag(d + j) for j in range(7)]),
        "last_day": np.repeat(_window_mean(y, origins, spd)[:, None] / s, steps, axis=1),
        "last_value": np.repeat(_take(y, origins - 1)[:, None] / s, steps, axis=1),
        "lead_days": np.broadcast_to(lead / spd, t.shape),
    }
    c = {k: cal[k].to_numpy(dtype=float) for k in ("hour", "dow", "doy", "holiday", "day_off")}
    for k in ("hour", "dow", "holiday", "day_off"):
        f[k] = _take(c[k], t)
    f["lag_d_day_off"] = _take(c["day_off"], t - d * spd)
    f["doy_sin"], f["doy_cos"] = np.sin(2 * np.pi * _take(c["doy"], t) / 365.25), np.cos(
        2 * np.pi * _take(c["doy"], t) / 365.25)
    if temps is not None:
        daily = pd.DataFrame({"day": cal["day"], "t": temps}).groupby("day")["t"]
        f["temp"] = _take(temps, t)
        f["temp_change"] = f["temp"] - _take(temps, t - d * spd)
        f["temp_day_mean"] = _take(daily.transform("mean").to_numpy(), t)
        f["temp_day_max"] = _take(daily.transform("max").to_numpy(), t)
    frame = pd.DataFrame({k: np.asarray(v, float).ravel() for k, v in f.items()})
    return frame, np.repeat(scale, steps), t.ravel()


def _window_mean(y: np.ndarray, origins: np.ndarray, spd: int) -> np.ndarray:
    return np.array([np.nanmean(y[max(0, o - spd):o]) if np.any(~np.isnan(y[max(0, o - spd):o])) else np.nan
                     for o in origins])
