"""The weather path of `meters forecast` fed from the synthetic fleet's hourly regional weather
(meters/fleet/weather.py, as a weather feed would deliver it) onto 30-minute demand: the hourly
forecast is put on the half-hours, used, and helps on a temperature-driven series. (There is no
real weather data set in the project; this checks the plumbing, not the real-world gain.)"""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast_svc.intervals import Clock
from forecast_svc.weather_input import WeatherGap, on_steps, read_weather
from meters.cli import app
from meters.fleet.config import FleetConfig
from meters.fleet.weather import hourly_temperature

DAYS = 44


@pytest.fixture(scope="module")
def nsw_weather() -> pd.Series:
    regions, hours, temps = hourly_temperature(FleetConfig(meters=10, days=DAYS))
    keep = regions == "NSW"
    return pd.Series(temps[keep], index=pd.to_datetime(hours[keep], unit="s", utc=True) + pd.Timedelta(minutes=30))


def test_hourly_weather_onto_half_hours(nsw_weather):
    raw = pd.DataFrame({"timestamp": nsw_weather.index.tz_convert("Etc/GMT-10").tz_localize(None).astype(str),
                        "temperature_c": nsw_weather.to_numpy()})
    weather = read_weather(raw, Clock(tz="nem"))
    pd.testing.assert_index_equal(weather.index, nsw_weather.index, check_names=False)
    ends = pd.date_range(nsw_weather.index[10], periods=8, freq="30min")
    temps = on_steps(weather, ends, pd.Timedelta(minutes=30))
    lo, hi = nsw_weather.iloc[9:15].min(), nsw_weather.iloc[9:15].max()
    assert ((temps >= lo - 1e-9) & (temps <= hi + 1e-9)).all()
    with pytest.raises(WeatherGap, match="does not cover"):
        on_steps(weather, pd.date_range(nsw_weather.index[-1], periods=8, freq="30min"), pd.Timedelta(minutes=30))


def test_fleet_weather_forecast_helps_a_temperature_driven_series(tmp_path, nsw_weather):
    ends = pd.date_range(nsw_weather.index[0] + pd.Timedelta(hours=1), nsw_weather.index[-1], freq="30min")
    middles = (ends - pd.Timedelta(minutes=15)).as_unit("ns").asi8
    temp = np.interp(middles, nsw_weather.index.as_unit("ns").asi8, nsw_weather.to_numpy())
    local = (ends - pd.Timedelta(minutes=15)).tz_convert("Australia/Sydney")
    hour = local.hour + local.minute / 60
    rng = np.random.default_rng(5)
    y = (50 * (1 + 0.3 * np.sin(2 * np.pi * (hour - 9) / 24)) + 4 * np.abs(temp - 20)
         + rng.normal(0, 0.5, len(ends)))
    cut = len(ends) - 48 * 2
    history = pd.DataFrame({"timestamp": ends[:cut].strftime("%Y-%m-%dT%H:%M:%SZ"), "value": y[:cut],
                            "temperature_c": temp[:cut]})
    history.to_csv(tmp_path / "h.csv", index=False)
    w = nsw_weather[nsw_weather.index >= ends[cut - 1]]
    pd.DataFrame({"timestamp": w.index.strftime("%Y-%m-%dT%H:%M:%SZ"), "temperature_c": w.to_numpy()}).to_csv(
        tmp_path / "w.csv", index=False)
    errors, outputs = {}, {}
    for name, extra in (("with", ["--weather", str(tmp_path / "w.csv")]), ("without", [])):
        result = CliRunner().invoke(app, ["forecast", "--history", str(tmp_path / "h.csv"), "--horizon", "48h",
                                          "--region", "NSW", "--out", str(tmp_path / f"{name}.csv"), *extra])
        assert result.exit_code == 0, result.output
        outputs[name] = result.output
        f = pd.read_csv(tmp_path / f"{name}.csv")
        errors[name] = float(np.mean(np.abs(f["forecast"].to_numpy() - y[cut:cut + len(f)])))
    assert "weather used" in outputs["with"] and "without weather" in outputs["without"]
    assert errors["with"] < 0.8 * errors["without"], errors
