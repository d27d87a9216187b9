"""The forecast pipeline on a small synthetic series with known daily/weekly shape and a
temperature effect: it must clearly beat the seasonal-naive forecast and keep its bands honest."""

import numpy as np
import pandas as pd
import pytest

from forecast_svc import backtest
from forecast_svc.accuracy import coverage, mape_percent, within_5pct
from forecast_svc.model import DemandModel, conformal_quantile
from forecast_svc.scopes import network

DAYS = 17


def synthetic(days: int = DAYS, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2026-03-02 00:15", periods=days * 96, freq="15min", tz="Australia/Sydney").tz_convert("UTC")
    local = ds.tz_convert("Australia/Sydney")
    hour = local.hour + local.minute / 60
    weekend = local.day_of_week >= 5
    daily = 1 + 0.35 * np.sin(2 * np.pi * (hour - 9) / 24) + 0.2 * np.exp(-((hour - 19) ** 2) / 4)
    temp = 22 + 6 * np.sin(2 * np.pi * (hour - 9) / 24) + np.repeat(rng.normal(0, 3, days), 96)
    y = 100 * daily * np.where(weekend, 0.8, 1.0) + 2.5 * np.clip(temp - 24, 0, None) + rng.normal(0, 1.5, len(ds))
    return pd.DataFrame({"ds": ds, "y": y, "temperature_c": temp})


@pytest.fixture(scope="module")
def fitted():
    series = synthetic()
    return DemandModel.fit(series.iloc[:-3 * 96], network(), calibration_days=2), series


def test_beats_seasonal_naive_on_held_out_days(fitted):
    model, series = fitted
    figures = backtest.run(model, series, len(series) - 3 * 96, known_weather=True).figures()
    assert figures["mape"] < 0.6 * figures["naive_mape"], figures
    assert figures["skill_vs_naive"] > 0.3, figures
    assert figures["within_5pct"] > 0.8, figures


def test_bands_cover_about_their_level(fitted):
    model, series = fitted
    figures = backtest.run(model, series, len(series) - 3 * 96, known_weather=True).figures()
    assert 0.75 <= figures["interval_coverage"] <= 1.0, figures


def test_forecast_shape_and_round_trip(fitted, tmp_path):
    model, series = fitted
    start = series["ds"].iloc[-3 * 96 - 1]
    f = model.forecast(series.iloc[:-3 * 96], start, 72 * 4)
    assert len(f) == 288 and f["ds"].iloc[0] == start + pd.Timedelta(minutes=15)
    assert (f["lower"] <= f["forecast"]).all() and (f["forecast"] <= f["upper"]).all()
    model.save(tmp_path)
    again = DemandModel.load(tmp_path).forecast(series.iloc[:-3 * 96], start, 72 * 4)
    np.testing.assert_allclose(again["forecast"], f["forecast"], rtol=1e-6)


def test_accuracy_helpers():
    assert within_5pct([104, 90], [100, 100]) == 0.5
    assert mape_percent([110, 90], [100, 100]) == pytest.approx(10)
    assert coverage([0, 0], [1, 1], [0.5, 2]) == 0.5


def test_conformal_quantile_is_the_finite_sample_rank():
    # ceil((n + 1) * 0.9)-th smallest: the 9th of 9, the 18th of 19, the 91st of 100 (not interpolated).
    assert conformal_quantile(np.arange(1, 10), 0.9) == 9
    assert conformal_quantile(np.arange(1, 20), 0.9) == 18
    assert conformal_quantile(np.arange(1, 101), 0.9) == 91


def test_bands_match_known_noise_on_held_out_days():
    """Demand with a known shape, Gaussian step noise (sd 3) and a random level per day (sd 1):
    the ideal 90 % half-width is 1.645 * sqrt(3^2 + 1^2) = 5.2. The bands come from 7 rolling
    origins (one per calibration day) and must be near that and cover ~90 % of 14 held-out days.
    Too few origins, in-sample errors or a wrong quantile would miss these bounds. (May-June 2026:
    no national public holiday, which the model would take for a day off and this series does not.)"""
    rng = np.random.default_rng(11)
    days = 35
    ds = pd.date_range("2026-05-04 00:15", periods=days * 96, freq="15min", tz="Australia/Sydney").tz_convert("UTC")
    local = ds.tz_convert("Australia/Sydney")
    hour = local.hour + local.minute / 60
    shape = 100 * (1 + 0.3 * np.sin(2 * np.pi * (hour - 9) / 24)) * np.where(local.day_of_week >= 5, 0.85, 1.0)
    y = shape + rng.normal(0, 3, len(ds)) + np.repeat(rng.normal(0, 1, days), 96)
    series = pd.DataFrame({"ds": ds, "y": y})
    model = DemandModel.fit(series.iloc[:21 * 96], network(), seed=1)
    assert model.params.calibration["origins"] == 7
    ideal = 1.645 * np.hypot(3, 1)
    assert 0.85 * ideal <= model.params.band_mw[0] <= 1.2 * ideal, model.params.band_mw
    figures = backtest.run(model, series, 21 * 96).figures()
    assert 0.85 <= figures["interval_coverage"] <= 0.95, figures
