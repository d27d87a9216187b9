"""Forecasts for scopes without a model of their own (zone substations and transformers: tens of
thousands of them): the parent's model (the region's, else the network's) at the parent's measured
level (level.py), scaled by the scope's share of the parent's measured demand over the last week;
the band is the parent's, scaled, widened by the share's spread: hypot(share x parent half-width,
90 % quantile of |y - share x parent y| over that week).

One function for the service (forecaster.py) and the held-out evaluation (backtest.borrowed), so the
figures in docs/forecasting.md are those of what GetDemandForecast serves.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast_svc import level
from forecast_svc.model import STEPS_PER_DAY, DemandModel
from forecast_svc.residual import LOOKBACK_STEPS
from forecast_svc.scopes import NETWORK, REGION, Scope

SHARE_STEPS = 7 * STEPS_PER_DAY  # the share is measured over the last week
HISTORY = dt.timedelta(days=8)  # of the scope and of its parent, before the start


@dataclass(frozen=True)
class Borrowed:
    frame: pd.DataFrame  # ds, forecast, lower, upper
    share: float  # the scope's demand / its parent's over the last week
    level: level.Level  # the parent's


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
    spread = float(np.quantile(np.abs(joined["y"] - share * joined["y_p"]), interval_level))
    lv = level.measure(model, parent_history, start)  # the parent at its measured level
    f = level.forecast(model, parent_history.tail(LOOKBACK_STEPS), start, steps, lv)
    half = np.hypot(share * (f["upper"] - f["forecast"]), spread)
    f["forecast"] *= share
    f["lower"], f["upper"] = f["forecast"] - half, f["forecast"] + half
    return Borrowed(f, share, lv)
