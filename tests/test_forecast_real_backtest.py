"""The real-data backtests: no forecast reads a value at or after its origin, the model beats the
seasonal peers on a real ETTh1 load channel, and the evaluation writes its table."""

import numpy as np
import pytest

from forecast_svc import peers
from forecast_svc import real_backtest as rb
from forecast_svc.ensemble import Ensemble
from forecast_svc.intervals import SeriesError
from forecast_svc.lag_features import calendar_frame
from forecast_svc.real_evaluation import markdown
from forecast_svc.real_series import etth1_series


@pytest.fixture(scope="module")
def hufl():
    return etth1_series()[0]


def test_forecasts_read_nothing_at_or_after_the_origin(hufl):
    s, spd = hufl, hufl.spd
    cal = calendar_frame(s.ends, s.step, s.calendar)
    origin = int(rb.midnight_origins(s)[60])
    model = Ensemble.fit(s.y[:origin], cal, None, origin % spd, spd, spd)
    scrambled = s.y.copy()
    scrambled[origin:] = np.random.default_rng(0).normal(100, 50, len(s.y) - origin)
    at = np.array([origin])
    for a, b in zip(model.predict(s.y, cal, None, at, spd), model.predict(scrambled, cal, None, at, spd)):
        np.testing.assert_array_equal(a, b)
    for peer in (peers.mean_4_weeks, peers.last_week, peers.mstl):
        np.testing.assert_array_equal(peer(s.y, at, spd, spd), peer(scrambled, at, spd, spd))
    lgbm = peers.LgbmLagsPeer(s.y, s.ends, origin, spd)
    np.testing.assert_array_equal(lgbm.predict(s.y, at, spd), lgbm.predict(scrambled, at, spd))


def test_model_beats_the_seasonal_peers_on_a_real_load_channel(hufl):
    r = rb.run(hufl, folds=2)
    fig = r.figures()
    assert set(fig) == set(rb.MODELS)
    assert r.actual.shape == (2 * rb.FOLD_DAYS, 24)
    for peer in ("mean_4w", "last_week", "mstl"):
        assert fig["model"]["mae"] < fig[peer]["mae"], (peer, fig)
    assert 0.7 <= fig["model"]["interval_coverage"] <= 1.0, fig
    assert "weights gbm" in r.notes[0]


def test_markdown_table_names_every_model(hufl):
    import pandas as pd

    r = rb.run(hufl, folds=1, fold_days=7)
    rows = [{"series": "etth1_hufl", "aggregate": True, "model": m, **v} for m, v in r.figures().items()]
    text = markdown(pd.DataFrame(rows), {"forecast_real_aggregates_won_mape": 1, "forecast_real_aggregates_won_mae": 1,
                                         "forecast_real_aggregates": 1, "forecast_real_run_seconds": 3})
    for m in rb.MODELS:
        assert f"| etth1_hufl | {m} |" in text


def test_too_short_series_is_a_clear_error(hufl):
    s = rb.RealSeries("short", hufl.y[:30 * 24], hufl.ends[:30 * 24], hufl.step, hufl.calendar, True)
    with pytest.raises(ValueError, match="too short"):
        rb.run(s)
    cal = calendar_frame(s.ends, s.step, s.calendar)
    with pytest.raises(SeriesError, match="needs at least 35"):
        Ensemble.fit(s.y, cal, None, 0, 24, 24)
