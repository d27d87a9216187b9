"""The simple peers a demand forecast must beat, each forecasting (origins x steps) from y before
each origin: the same slot's mean over the 4 previous weeks, the same time last week, MSTL, and a
LightGBM on lags and calendar as a data scientist would set it up in an afternoon.

MSTL follows statsforecast's MSTL recipe (statsforecast itself needs pandas < 3): statsmodels' MSTL
decomposition of the last 6 weeks into daily and weekly seasonal parts, the seasonal parts
repeated, the trend + remainder forecast by simple exponential smoothing. The LightGBM peer is
mlforecast's usual day-ahead setup: lags of one day and one week (both at or past the horizon),
hour and weekday, default LightGBM settings, fitted on every step of the history."""

import warnings

import lightgbm as lgb
import numpy as np
import pandas as pd

MSTL_WEEKS = 6  # of history per fit; STL inner_iter 1 (default 2): 7x faster, for a run of minutes


def _lagged(y: np.ndarray, origins: np.ndarray, steps: int, back: int) -> np.ndarray:
    t = origins[:, None] + np.arange(steps)[None, :] - back
    out = np.full(t.shape, np.nan)
    ok = (t >= 0) & (t < origins[:, None])
    out[ok] = y[t[ok]]
    return out


def last_week(y: np.ndarray, origins: np.ndarray, steps: int, spd: int) -> np.ndarray:
    return _lagged(y, origins, steps, 7 * spd)


def mean_4_weeks(y: np.ndarray, origins: np.ndarray, steps: int, spd: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a slot missing all 4 weeks stays NaN
        return np.nanmean(np.stack([_lagged(y, origins, steps, k * 7 * spd) for k in range(1, 5)]), axis=0)


def mstl(y: np.ndarray, origins: np.ndarray, steps: int, spd: int) -> np.ndarray:
    from statsmodels.tsa.holtwinters import SimpleExpSmoothing
    from statsmodels.tsa.seasonal import MSTL

    out = np.full((len(origins), steps), np.nan)
    for i, o in enumerate(origins):
        window = pd.Series(y[max(0, o - MSTL_WEEKS * 7 * spd):o]).interpolate(limit_direction="both")
        if window.isna().any() or len(window) < 2 * 7 * spd:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = MSTL(window.to_numpy(), periods=(spd, 7 * spd), stl_kwargs={"robust": False, "inner_iter": 1}).fit()
            seasonal = np.asarray(fit.seasonal).reshape(len(window), -1)
            level = SimpleExpSmoothing(np.asarray(fit.trend) + np.asarray(fit.resid),
                                       initialization_method="estimated").fit().forecast(steps)
        ahead = np.zeros(steps)
        for j, period in enumerate((spd, 7 * spd)):
            last = seasonal[-period:, j]
            ahead += last[np.arange(steps) % period]
        out[i] = ahead + level
    return out


class LgbmLagsPeer:
    """Lags of a day and a week, hour and weekday (UTC clock, as a default date feature would be)."""

    def __init__(self, y: np.ndarray, ends: pd.DatetimeIndex, known: int, spd: int, seed: int = 0):
        self.spd, self.ends = spd, ends
        X = self._features(y, np.arange(known))
        ok = ~np.isnan(y[:known]) & ~np.isnan(X["lag_day"].to_numpy())
        self.model = lgb.LGBMRegressor(random_state=seed, num_threads=1, verbose=-1)
        self.model.fit(X[ok], y[:known][ok])

    def _features(self, y: np.ndarray, t: np.ndarray) -> pd.DataFrame:
        def lag(k):
            i = t - k
            return np.where(i >= 0, y[np.clip(i, 0, None)], np.nan)

        when = self.ends[t]
        return pd.DataFrame({"lag_day": lag(self.spd), "lag_week": lag(7 * self.spd),
                             "hour": when.hour + when.minute / 60, "dow": when.day_of_week})

    def predict(self, y: np.ndarray, origins: np.ndarray, steps: int) -> np.ndarray:
        if steps > self.spd:
            raise ValueError("the lag peer forecasts a day ahead at most")
        t = (origins[:, None] + np.arange(steps)[None, :]).ravel()
        return self.model.predict(self._features(y, t)).reshape(len(origins), steps)
