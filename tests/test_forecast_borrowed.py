"""A substation or transformer borrows its parent's model scaled by its share; its band comes from
its own recent errors (borrowed.py), through the function the service and the evaluation share."""

import numpy as np
import pandas as pd
import pytest

from forecast_svc import backtest, borrowed
from forecast_svc.model import DemandModel
from forecast_svc.scopes import region
from tests.test_forecast_model import synthetic

SHARE = 0.02
HELD_OUT_DAYS = 7


@pytest.fixture(scope="module")
def parent():
    series = synthetic(days=24, seed=5)
    model = DemandModel.fit(series.iloc[:10 * 96], region("NSW"), calibration_days=0)
    return model, series[["ds", "y"]]


def scope_of(parent_series: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """share x the parent's demand with relative noise of known spread: σ 4 % from local midnight to
    noon, 25 % from noon to midnight (a scope's households at night and at their evening peak)."""
    rng = np.random.default_rng(seed)
    hour = parent_series["ds"].dt.tz_convert("Australia/Sydney").dt.hour.to_numpy()
    sigma = np.where(hour < 12, 0.04, 0.25)
    return parent_series.assign(y=SHARE * parent_series["y"] * (1 + sigma * rng.standard_normal(len(hour))))


def test_band_covers_about_90_percent_at_every_time_of_day(parent):
    model, parent_series = parent
    scope = scope_of(parent_series)
    result = backtest.borrowed(model, parent_series, scope, len(scope) - HELD_OUT_DAYS * 96)
    f = pd.concat(result.frames, ignore_index=True)
    inside = (f.actual >= f.lower) & (f.actual <= f.upper)
    noisy = f.ds.dt.tz_convert("Australia/Sydney").dt.hour.to_numpy() >= 12
    width = (f.upper - f.lower) / f.forecast
    assert 0.82 <= inside.mean() <= 0.96, inside.mean()
    # One spread for the whole day would cover nearly every quiet step and too few noisy ones.
    assert 0.78 <= inside[noisy].mean() <= 0.97, inside[noisy].mean()
    assert 0.78 <= inside[~noisy].mean() <= 0.97, inside[~noisy].mean()
    assert width[~noisy].mean() < 0.5 * width[noisy].mean(), (width[~noisy].mean(), width[noisy].mean())
    assert f.forecast.mean() == pytest.approx(f.actual.mean(), rel=0.1)


def test_short_history_falls_back_to_the_share_spread(parent):
    model, parent_series = parent
    scope = scope_of(parent_series)
    start = parent_series["ds"].iloc[-97]
    recent = scope[(scope.ds > start - pd.Timedelta(hours=12)) & (scope.ds <= start)]
    parent_hist = parent_series[(parent_series.ds >= start - borrowed.HISTORY) & (parent_series.ds <= start)]
    b = borrowed.forecast(model, parent_hist, recent, start.to_pydatetime(), 96)
    assert b.origins == 0
    assert b.share == pytest.approx(SHARE, rel=0.1)
    assert np.all(b.frame["upper"] > b.frame["forecast"]) and np.all(b.frame["lower"] < b.frame["forecast"])
    assert borrowed.forecast(model, parent_hist, recent.iloc[:0], start.to_pydatetime(), 96) is None
