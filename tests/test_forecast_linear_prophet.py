"""The numpy evaluation of a fitted Prophet model gives Prophet's own predict, row for row."""

import numpy as np
import pandas as pd
import pytest
from prophet import Prophet

from forecast_svc.features import prophet_frame
from forecast_svc.linear_prophet import LinearProphet
from tests.test_forecast_model import synthetic


def _prophet_yhat_in_input_order(m: Prophet, frame: pd.DataFrame) -> np.ndarray:
    """Prophet's predict sorts rows by ds (the repeated local hour at a DST end reorders them)."""
    order = np.argsort(frame["ds"].to_numpy(), kind="mergesort")
    out = np.empty(len(frame))
    out[order] = m.predict(frame)["yhat"].to_numpy()
    return out


@pytest.mark.parametrize("growth", ["flat", "linear"])
def test_matches_prophet_predict(growth):
    series = synthetic(days=12)
    frame = prophet_frame(series["ds"], "Australia/Sydney", "NSW", series["temperature_c"].to_numpy())
    frame["y"] = series["y"].to_numpy()
    holidays = pd.DataFrame({"holiday": "public_holiday", "ds": pd.to_datetime(["2026-03-09"]),
                             "lower_window": 0, "upper_window": 1})  # Canberra Day-like, with a day after
    m = Prophet(growth=growth, weekly_seasonality=3, daily_seasonality=False, yearly_seasonality=False,
                seasonality_mode="multiplicative", holidays=holidays, uncertainty_samples=0)
    m.add_seasonality("daily_work", period=1, fourier_order=6, condition_name="work_day")
    m.add_seasonality("daily_off", period=1, fourier_order=6, condition_name="day_off")
    m.add_regressor("hdd", mode="additive")
    m.add_regressor("cdd", mode="multiplicative")
    m.fit(frame)
    # Past and future steps, across the April DST end (a repeated local hour).
    future = pd.Series(pd.date_range(series["ds"].iloc[0], periods=40 * 96, freq="15min"))
    temps = 22 + 8 * np.sin(np.arange(len(future)) / 30)
    query = prophet_frame(future, "Australia/Sydney", "NSW", temps)
    expected = _prophet_yhat_in_input_order(m, query)
    np.testing.assert_allclose(LinearProphet(m).predict(query), expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
