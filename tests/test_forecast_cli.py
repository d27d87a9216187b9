"""`meters forecast`: CSV history (any of 5/15/30/60-minute steps, labels as starts or ends, UTC or
NEM time) and an optional weather forecast in, CSV forecast with bands out; real SGSC households."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast_svc.real_series import SGSC
from meters.cli import app

DAYS = 42


def demand(step_min: int, days: int = DAYS, seed: int = 3, temp_effect: float = 0.0) -> pd.DataFrame:
    """Interval ends (UTC), a daily and weekly shape on the Sydney clock, noise, and, when temp_effect,
    cooling load from day-to-day temperature swings."""
    rng = np.random.default_rng(seed)
    per_day = 24 * 60 // step_min
    ds = pd.date_range("2026-01-05", periods=days * per_day, freq=f"{step_min}min", tz="Australia/Sydney")
    ds = (ds + pd.Timedelta(minutes=step_min)).tz_convert("UTC")
    local = (ds - pd.Timedelta(minutes=step_min)).tz_convert("Australia/Sydney")
    hour = local.hour + local.minute / 60
    daily = 1 + 0.35 * np.sin(2 * np.pi * (hour - 9) / 24) + 0.2 * np.exp(-((hour - 19) ** 2) / 4)
    temp = 24 + 5 * np.sin(2 * np.pi * (hour - 9) / 24) + np.repeat(rng.normal(0, 4, days), per_day)
    y = 100 * daily * np.where(local.day_of_week >= 5, 0.8, 1.0) + temp_effect * np.clip(temp - 22, 0, None)
    return pd.DataFrame({"ds": ds, "y": y + rng.normal(0, 1.0, len(ds)), "temperature_c": temp})


def write(frame: pd.DataFrame, path, with_temperature: bool = False):
    out = pd.DataFrame({"timestamp": frame["ds"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": frame["y"]})
    if with_temperature:
        out["temperature_c"] = frame["temperature_c"]
    out.to_csv(path, index=False)
    return path


def run(*args):
    return CliRunner().invoke(app, ["forecast", *map(str, args)])


@pytest.mark.parametrize("step_min", [5, 15, 30, 60])
def test_forecasts_at_the_series_own_step(tmp_path, step_min):
    history = demand(step_min)
    out = tmp_path / "f.csv"
    result = run("--history", write(history, tmp_path / "h.csv"), "--horizon", "48h", "--out", out)
    assert result.exit_code == 0, result.output
    assert f"interval {step_min} min inferred" in result.output
    f = pd.read_csv(out)
    assert list(f.columns) == ["timestamp", "forecast", "lower", "upper"]
    assert len(f) == 48 * 60 // step_min
    times = pd.to_datetime(f["timestamp"], utc=True)
    assert times.iloc[0] == history["ds"].iloc[-1] + pd.Timedelta(minutes=step_min)
    assert (times.diff().dropna() == pd.Timedelta(minutes=step_min)).all()
    assert ((f["lower"] <= f["forecast"]) & (f["forecast"] <= f["upper"])).all()
    truth = demand(step_min, DAYS + 2)["y"].to_numpy()[len(history):]
    assert np.mean(np.abs(f["forecast"] - truth) / truth) < 0.05


def test_sgsc_household_30_minutes_nem_time_interval_starts(tmp_path):
    raw = pd.read_csv(SGSC, nrows=60 * 48)  # the first household's first 60 days
    raw = raw[raw["CUSTOMER_ID"] == raw["CUSTOMER_ID"].iloc[0]]
    src = tmp_path / "sgsc.csv"
    raw.rename(columns={"READING_DATETIME": "timestamp", "GENERAL_SUPPLY_KWH": "value"})[
        ["timestamp", "value"]].to_csv(src, index=False)
    out = tmp_path / "f.csv"
    result = run("--history", src, "--horizon", "48h", "--timestamps", "start", "--tz", "nem", "--region", "NSW",
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert "interval 30 min inferred" in result.output
    f = pd.read_csv(out)
    assert len(f) == 96
    assert f["timestamp"].str.endswith("+10:00").all()
    last = pd.Timestamp(raw["READING_DATETIME"].iloc[-1])
    assert pd.Timestamp(f["timestamp"].iloc[0]).tz_localize(None) == last + pd.Timedelta(minutes=30)
    assert (f["lower"] >= 0).all() and (f["forecast"] > 0).all()


def test_labels_as_starts_or_ends_give_the_same_forecast(tmp_path):
    history = demand(30)
    ends = write(history, tmp_path / "ends.csv")
    starts = write(history.assign(ds=history["ds"] - pd.Timedelta(minutes=30)), tmp_path / "starts.csv")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert run("--history", ends, "--out", a).exit_code == 0
    assert run("--history", starts, "--timestamps", "start", "--out", b).exit_code == 0
    fa, fb = pd.read_csv(a), pd.read_csv(b)
    assert pd.Timestamp(fb["timestamp"].iloc[0]) == pd.Timestamp(fa["timestamp"].iloc[0]) - pd.Timedelta(minutes=30)
    np.testing.assert_allclose(fa["forecast"], fb["forecast"])


def weather_file(frame: pd.DataFrame, path, hours_from_end: int | None = None):
    w = frame if hours_from_end is None else frame[frame["ds"] <= frame["ds"].iloc[0] + pd.Timedelta(
        hours=hours_from_end)]
    pd.DataFrame({"timestamp": w["ds"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "temperature_c": w["temperature_c"],
                  "humidity": 50}).to_csv(path, index=False)
    return path


def test_weather_forecast_improves_a_temperature_driven_series(tmp_path):
    full = demand(30, DAYS + 2, temp_effect=8.0)
    history, ahead = full.iloc[:DAYS * 48], full.iloc[DAYS * 48:]
    src = write(history, tmp_path / "h.csv", with_temperature=True)
    with_w, without = tmp_path / "w.csv", tmp_path / "n.csv"
    result = run("--history", src, "--weather", weather_file(ahead, tmp_path / "weather.csv"), "--out", with_w)
    assert result.exit_code == 0, result.output
    assert "weather used" in result.output
    result = run("--history", src, "--out", without)
    assert result.exit_code == 0, result.output
    assert "no weather forecast given: forecasting without weather" in result.output
    err = {k: np.mean(np.abs(pd.read_csv(p)["forecast"].to_numpy() - ahead["y"].to_numpy()))
           for k, p in (("with", with_w), ("without", without))}
    assert err["with"] < 0.7 * err["without"], err


def test_weather_that_does_not_cover_the_horizon_names_the_gap(tmp_path):
    full = demand(30, DAYS + 2)
    src = write(full.iloc[:DAYS * 48], tmp_path / "h.csv", with_temperature=True)
    short = weather_file(full.iloc[DAYS * 48:], tmp_path / "w.csv", hours_from_end=30)
    result = run("--history", src, "--weather", short, "--horizon", "48h")
    assert result.exit_code == 2
    assert "does not cover the horizon" in result.output
    gap_start = (full["ds"].iloc[DAYS * 48] + pd.Timedelta(hours=31)).strftime("%Y-%m-%dT%H:%MZ")
    assert gap_start in result.output and "34 of 96 steps" in result.output, result.output


def test_weather_without_observed_history_temperature_falls_back(tmp_path):
    full = demand(30, DAYS + 2)
    src = write(full.iloc[:DAYS * 48], tmp_path / "h.csv", with_temperature=False)
    result = run("--history", src, "--weather", weather_file(full.iloc[DAYS * 48:], tmp_path / "w.csv"))
    assert result.exit_code == 0, result.output
    assert "weather not used" in result.output and "forecasting without weather" in result.output


def test_too_short_to_backtest_is_a_clear_error(tmp_path):
    result = run("--history", write(demand(30, days=20), tmp_path / "h.csv"))
    assert result.exit_code == 2
    assert "history has 20 days" in result.output and "needs at least 35" in result.output


@pytest.mark.parametrize("minutes", [7, 45])
def test_unsupported_interval_length(tmp_path, minutes):
    ds = pd.date_range("2026-01-01", periods=50, freq=f"{minutes}min", tz="UTC")
    src = tmp_path / "h.csv"
    pd.DataFrame({"timestamp": ds.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": 1.0}).to_csv(src, index=False)
    result = run("--history", src)
    assert result.exit_code == 2 and f"interval length {minutes} min" in result.output


def test_rejects_bad_horizon(tmp_path):
    src = tmp_path / "h.csv"
    src.write_text("timestamp,value\n2026-01-01T00:15:00Z,1\n")
    result = run("--history", src, "--horizon", "100h")
    assert result.exit_code != 0
