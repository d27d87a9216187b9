"""GetDemandForecast's weather forecast: taken by a scope's own model trained with temperatures (a
hotter forecast gives more cooling demand), ignored and said so otherwise, and a forecast that
does not cover the horizon is INVALID_ARGUMENT naming the steps."""

import asyncio
import datetime as dt

import grpc
import pytest

from forecast_svc.forecaster import Forecaster, ModelCache, weather_on_steps
from forecast_svc.model import DemandModel
from forecast_svc.scopes import region
from forecast_svc.training import register
from meters.errors import DomainError
from meters.model_registry import ModelRegistry
from tests.test_forecast_model import synthetic
from tests.test_forecast_serving import HistoryStore


@pytest.fixture(scope="module")
def nsw(tmp_path_factory):
    series = synthetic(days=10)
    history = series.iloc[:-96]
    registry = ModelRegistry(tmp_path_factory.mktemp("registry"))
    model = DemandModel.fit(history, region("NSW"), calibration_days=0)
    assert model.params.has_temperature
    register(registry, model, history)
    start = history["ds"].iloc[-1].to_pydatetime()
    return Forecaster(HistoryStore(history), ModelCache(registry)), start


def weather(start: dt.datetime, hours: int, temp: float) -> list[tuple[dt.datetime, float]]:
    return [(start + dt.timedelta(minutes=30 * i), temp) for i in range(hours * 2 + 1)]


def test_own_model_takes_the_weather_forecast(nsw):
    forecaster, start = nsw
    runs = {t: asyncio.run(forecaster.compute("region", "NSW", 24, start, weather_on_steps(weather(start, 24, t),
                                                                                            start, 24)))
            for t in (20.0, 34.0)}
    plain = asyncio.run(forecaster.compute("region", "NSW", 24, start))
    assert "weather forecast used" in runs[20.0].model_version
    assert "weather" not in plain.model_version
    hot, mild = (sum(p.predicted_mw for p in runs[t].points) for t in (34.0, 20.0))
    assert hot > mild * 1.05, (hot, mild)


def test_weather_short_of_the_horizon_is_invalid_argument(nsw):
    forecaster, start = nsw
    with pytest.raises(DomainError) as err:
        asyncio.run(forecaster.get("region", "NSW", 24, start, False, weather(start, 12, 25.0)))
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    (violation,) = err.value.violations
    assert violation.field == "weather" and "does not cover the horizon" in violation.description
    assert "46 of 96 steps" in violation.description, violation.description


def test_no_weather_is_the_outlook():
    assert weather_on_steps([], dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), 24) is None


def test_observed_weather_lands_on_the_history_steps():
    """Hourly observations (at the hours' middles) interpolated to 15-minute steps; steps farther than
    an hour from any observation stay unknown (NaN), so a model sees no invented weather."""
    import numpy as np
    import pandas as pd

    from forecast_svc.weather_inputs import RegionWeather

    hours = pd.date_range("2026-01-01 00:30", periods=4, freq="1h", tz="UTC")
    observed = pd.Series([10.0, 12.0, 14.0, 16.0], index=hours)
    ds = pd.date_range("2026-01-01 00:15", periods=6 * 4, freq="15min", tz="UTC")
    history = RegionWeather(observed, None, "stored").history(pd.DataFrame({"ds": ds, "y": 1.0}))
    t = history.set_index("ds")["temperature_c"]
    assert t[pd.Timestamp("2026-01-01 01:15", tz="UTC")] == 11.25  # middle 01:07:30: 5/8 of 10 -> 12
    assert t[pd.Timestamp("2026-01-01 03:45", tz="UTC")] == 16.0  # past the last hour's middle, within an hour
    assert np.isnan(t[pd.Timestamp("2026-01-01 05:45", tz="UTC")])
