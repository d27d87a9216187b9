"""`meters forecast` round trip: CSV history in, CSV forecast with bands out."""

import pandas as pd
from typer.testing import CliRunner

from meters.cli import app
from tests.test_forecast_model import synthetic


def test_csv_round_trip(tmp_path):
    history = synthetic(days=10)
    src = tmp_path / "history.csv"
    pd.DataFrame({"timestamp": history["ds"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": history["y"]}).to_csv(
        src, index=False)
    out = tmp_path / "forecast.csv"
    result = CliRunner().invoke(app, ["forecast", "--history", str(src), "--horizon", "48h", "--out", str(out)])
    assert result.exit_code == 0, result.output
    f = pd.read_csv(out)
    assert list(f.columns) == ["timestamp", "forecast", "lower", "upper"]
    assert len(f) == 48 * 4
    first = pd.Timestamp(f["timestamp"].iloc[0])
    assert first == history["ds"].iloc[-1] + pd.Timedelta(minutes=15)
    assert ((f["lower"] <= f["forecast"]) & (f["forecast"] <= f["upper"])).all()
    assert abs(f["forecast"].mean() / history["y"].mean() - 1) < 0.15


def test_rejects_bad_horizon(tmp_path):
    src = tmp_path / "h.csv"
    src.write_text("timestamp,value\n2026-01-01T00:15:00Z,1\n")
    result = CliRunner().invoke(app, ["forecast", "--history", str(src), "--horizon", "100h"])
    assert result.exit_code != 0
