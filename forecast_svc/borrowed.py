"""Forecasts for scopes without a model of their own (zone substations and transformers: tens of
thousands of them): the parent's model (the region's, else the network's) at the parent's measured
level (level.py), scaled by the scope's share of the parent's measured demand over the last week.

Bands: split-conformal on the scope's own recent errors, as the models' bands are calibrated
(model.lead_day_bands): from each of the CALIBRATION_DAYS day starts before the forecast start
(same time of day as the start), the share-scaled parent forecast made the same way (the parent's
actuals before that origin, the level measured now) is compared with what the scope measured after
it. The errors are taken relative to that forecast (a scope's noise is its households', which
scales with its demand: at the evening peak as at night) and the band's half-width per lead day
and TIME_BLOCKS block of the day is the conformal 90 % quantile of those relative errors, times
the forecast. One origin's errors per lead day are enough to start; with less (a scope measured for
under a day) the band is the parent's, scaled, widened by the share's spread: hypot(share x parent
half-width, 90 % quantile of |y - share x parent y|), what every borrowed band was before (held-out
coverage 0.91 / 0.90 for substations / transformers overall, but 0.71-0.99 by time of day).

One function for the service (forecaster.py) and the held-out evaluation (backtest.borrowed), so the
figures in docs/forecasting.md are those of what GetDemandForecast serves.
"""

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast_svc import level
from forecast_svc.model import CALIBRATION_DAYS, STEPS_PER_DAY, DemandModel, lead_day_bands
from forecast_svc.residual import LOOKBACK_STEPS, MAX_HORIZON
from forecast_svc.scopes import NETWORK, REGION, Scope

SHARE_STEPS = 7 * STEPS_PER_DAY  # the share is measured over the last week
TIME_BLOCKS = 12  # band quantiles per 2 hours of the day
DAY = dt.timedelta(days=1)
# The scope's and its parent's measured demand before the start: the share's week; the parent's
# also covers the lookback of the earliest calibration origin.
HISTORY = dt.timedelta(days=CALIBRATION_DAYS, minutes=15 * LOOKBACK_STEPS)


@dataclass(frozen=True)
class Borrowed:
    frame: pd.DataFrame  # ds, forecast, lower, upper
    share: float  # the scope's demand / its parent's over the last week
    level: level.Level  # the parent's
    origins: int  # calibration origins the band comes from (0: the share's spread)


def parents(target: Scope) -> list[Scope]:
    """Whose model a scope borrows, in order of preference."""
    own_region = [Scope(REGION, target.region, target.region)] if target.region and target.kind != REGION else []
    return [*own_region, Scope(NETWORK)]


def forecast(model: DemandModel, parent_history: pd.DataFrame, history: pd.DataFrame, start: dt.datetime,
             steps: int, interval_level: float = 0.9) -> Borrowed | None:
    """The scope's forecast from its parent's model; histories (ds, y) as the service measures them
    over HISTORY before `start`. None when there is no measured demand to take a share of."""
    joined = history.merge(parent_history, on="ds", suffixes=("", "_p")).tail(SHARE_STEPS)
    if joined.empty or joined["y_p"].sum() <= 0:
        return None
    share = float(joined["y"].sum() / joined["y_p"].sum())
    lv = level.measure(model, parent_history, start)  # the parent at its measured level
    f = _scaled(model, parent_history, pd.Timestamp(start), steps, lv, share)
    errors = _errors(model, parent_history, history, pd.Timestamp(start), steps, lv, share)
    bands = lead_day_bands(np.abs(errors), interval_level, TIME_BLOCKS) if len(errors) else None
    if bands is None:
        spread = float(np.quantile(np.abs(joined["y"] - share * joined["y_p"]), interval_level))
        half = np.hypot(f["upper"] - f["forecast"], spread)
    else:
        i = np.arange(steps)
        half = f["forecast"] * bands[np.minimum(i // STEPS_PER_DAY, len(bands) - 1),
                                     (i % STEPS_PER_DAY) * TIME_BLOCKS // STEPS_PER_DAY]
    f["lower"], f["upper"] = f["forecast"] - half, f["forecast"] + half
    return Borrowed(f, share, lv, 0 if bands is None else len(errors))


def _scaled(model: DemandModel, parent_history: pd.DataFrame, origin: pd.Timestamp, steps: int,
            lv: level.Level, share: float) -> pd.DataFrame:
    """The parent's forecast from `origin` at its measured level, times the share (band too)."""
    f = level.forecast(model, parent_history[parent_history["ds"] <= origin].tail(LOOKBACK_STEPS), origin, steps, lv)
    f[["forecast", "lower", "upper"]] *= share
    return f


def _errors(model: DemandModel, parent_history: pd.DataFrame, history: pd.DataFrame, start: pd.Timestamp,
            steps: int, lv: level.Level, share: float) -> np.ndarray:
    """Signed relative errors, (forecast - actual) / forecast (origins x MAX_HORIZON, NaN where not
    measured), of the share-scaled parent forecast from each of the CALIBRATION_DAYS day starts
    before `start` against the scope's actuals."""
    measured = history.set_index("ds")["y"]
    rows = []
    for ds, pred in _origin_forecasts(model, parent_history, start, steps, lv):
        e = np.full(MAX_HORIZON, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            e[:len(pred)] = np.where(pred > 0, 1 - measured.reindex(ds).to_numpy(dtype=float) / (share * pred), np.nan)
        if np.count_nonzero(~np.isnan(e)):
            rows.append(e)
    return np.vstack(rows) if rows else np.empty((0, MAX_HORIZON))


_ORIGIN_FORECASTS: OrderedDict = OrderedDict()
CACHED_PARENTS = 32  # (parent, start) pairs kept: every scope of a region at one start shares them


def _origin_forecasts(model: DemandModel, parent_history: pd.DataFrame, start: pd.Timestamp, steps: int,
                      lv: level.Level) -> list[tuple[pd.DatetimeIndex, np.ndarray]]:
    """(ds, the parent's forecast at its measured level) from each calibration origin, up to `start`
    or `steps`. They depend on the parent only, so they are kept for the next scope of the same
    parent and start (same model, level and measured parent history), a few ms instead of ~40."""
    measured = int(pd.util.hash_pandas_object(parent_history[["ds", "y"]], index=False).sum())
    key = (model, start, steps, lv.factor, measured)
    if key not in _ORIGIN_FORECASTS:
        out = []
        for days in range(1, CALIBRATION_DAYS + 1):
            f = _scaled(model, parent_history, start - days * DAY, min(days * STEPS_PER_DAY, steps), lv, 1.0)
            out.append((pd.DatetimeIndex(f["ds"]), f["forecast"].to_numpy()))
        _ORIGIN_FORECASTS[key] = out
        while len(_ORIGIN_FORECASTS) > CACHED_PARENTS:
            _ORIGIN_FORECASTS.popitem(last=False)
    _ORIGIN_FORECASTS.move_to_end(key)
    return _ORIGIN_FORECASTS[key]
