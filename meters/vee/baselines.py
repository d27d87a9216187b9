"""What an estimate must beat: the naive substitutes a meter data manager reaches for first."""

import numpy as np

from meters.vee.series import IntervalSeries


def same_time_last_week(series: IntervalSeries, history: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The reading one week earlier (NaN where that one is missing too)."""
    back = targets - 7 * series.per_day
    return np.where(back >= 0, history[np.maximum(back, 0)], np.nan)


def mean_of_weeks(series: IntervalSeries, history: np.ndarray, targets: np.ndarray, weeks: int = 4) -> np.ndarray:
    """The mean of the same interval of the week over the preceding `weeks` weeks that have it."""
    back = targets[:, None] - 7 * series.per_day * np.arange(1, weeks + 1)[None, :]
    got = np.where(back >= 0, history[np.maximum(back, 0)], np.nan)
    count = (~np.isnan(got)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.nansum(got, axis=1) / count, np.nan)
