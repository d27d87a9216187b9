"""Estimates from the meter's own history: like days (Part B types 14/15) and its profile (25).

`history` is the series' kWh with every interval that may not be used (gaps, suspects, the
intervals being estimated) set to NaN.
"""

import numpy as np

from meters.vee.methods import like_day_offsets
from meters.vee.series import IntervalSeries


def like_day_values(series: IntervalSeries, history: np.ndarray, targets: np.ndarray, like_days: int,
                    lookback_days: int, combine: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """For each target index: the `combine` of the same interval on its `like_days` nearest
    preceding like days that have history (NaN if none), and how many like days were used."""
    values = np.full(len(targets), np.nan)
    used = np.zeros(len(targets), dtype=np.int64)
    weekday = series.weekday()[targets]
    for w in np.unique(weekday):
        rows = np.flatnonzero(weekday == w)
        back = like_day_offsets(int(w), lookback_days) * series.per_day
        cand = targets[rows, None] - back[None, :]
        inside = cand >= 0
        got = np.where(inside, history[np.where(inside, cand, 0)], np.nan)
        valid = ~np.isnan(got)
        take = valid & (np.cumsum(valid, axis=1) <= like_days)
        chosen = np.where(take, got, np.nan)
        count = take.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            if combine == "median":
                est = np.full(len(rows), np.nan)
                some = count > 0
                est[some] = np.nanmedian(chosen[some], axis=1)
            else:
                est = np.nansum(chosen, axis=1) / count
        values[rows], used[rows] = np.where(count > 0, est, np.nan), count
    return values, used


def week_profile(series: IntervalSeries, history: np.ndarray) -> np.ndarray:
    """Mean kWh per interval of the week (weekday x slot of day) over the history; a slot of the
    week never seen falls back to its slot of the day, then to the overall mean (NaN if no history)."""
    per_day = series.per_day
    slot_of_day = series.slot_of_day()
    known = ~np.isnan(history)
    weekly = _means(week_slot(series)[known], history[known], 7 * per_day)
    daily = _means(slot_of_day[known], history[known], per_day)
    overall = history[known].mean() if known.any() else np.nan
    daily = np.where(np.isnan(daily), overall, daily)
    return np.where(np.isnan(weekly), np.tile(daily, 7), weekly)


def week_slot(series: IntervalSeries) -> np.ndarray:
    return series.weekday() * series.per_day + series.slot_of_day()


def _means(keys: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    sums = np.bincount(keys, weights=values, minlength=size)
    counts = np.bincount(keys, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)
