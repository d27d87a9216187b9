"""What `meters forecast` computes, without the CLI: a history frame (and optional weather frame) in,
the forecast frame and notes on how it was made out.

The step is the history's own (intervals.infer_step). The model is ensemble.Ensemble: the lag
model with the simple peers weighted by a rolling-origin backtest over the history, bands from that
backtest's errors. Weather: with a weather forecast covering the horizon and the history's observed
temperature_c (at least MIN_TEMPERATURE_SHARE of its steps), the lag model takes temperature; else it
forecasts without, and a note says why."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast_svc.ensemble import Ensemble
from forecast_svc.intervals import Clock, SeriesError, format_labels, read_history
from forecast_svc.lag_features import Calendar, calendar_frame
from forecast_svc.weather_input import TEMPERATURE, on_steps, read_weather

MIN_TEMPERATURE_SHARE = 0.8
DAY = pd.Timedelta(days=1)


@dataclass
class CsvForecast:
    frame: pd.DataFrame  # timestamp, forecast, lower, upper
    step: pd.Timedelta
    notes: list[str]
    weather_used: bool


def forecast_csv(history: pd.DataFrame, hours: int, clock: Clock, calendar: Calendar,
                 weather: pd.DataFrame | None = None, level: float = 0.9) -> CsvForecast:
    series, step = read_history(history, clock)
    spd = int(DAY / step)
    steps = int(pd.Timedelta(hours=hours) / step)
    future = pd.date_range(series["ds"].iloc[-1] + step, periods=steps, freq=step)
    ends = pd.DatetimeIndex(series["ds"]).append(future)
    notes = [f"interval {int(step / pd.Timedelta(minutes=1))} min inferred from the history; "
             f"{steps} steps for {hours} h"]
    temps = None
    if weather is not None:
        ahead = on_steps(read_weather(weather, clock), future, step)  # WeatherGap if short
        observed = series[TEMPERATURE].to_numpy(float) if TEMPERATURE in series else None
        if observed is None or np.mean(~np.isnan(observed)) < MIN_TEMPERATURE_SHARE:
            notes.append(f"weather not used: the history needs observed {TEMPERATURE} on at least "
                         f"{MIN_TEMPERATURE_SHARE:.0%} of its steps to learn from; forecasting without weather")
        else:
            temps = np.concatenate([observed, ahead])
            notes.append("weather used: observed temperature_c of the history, the weather file's for the horizon")
    else:
        notes.append("no weather forecast given: forecasting without weather")
    y = series["y"].to_numpy(float)
    if np.all(np.isnan(y)):
        raise SeriesError("the history has no values")
    cal = calendar_frame(ends, step, calendar)
    model = Ensemble.fit(y, cal, temps, len(y) % spd, steps, spd, level)
    notes.append(model.describe())
    pred, lower, upper = (a[0] for a in model.predict(np.concatenate([y, np.full(steps, np.nan)]), cal, temps,
                                                      np.array([len(y)]), steps))
    out = pd.DataFrame({"timestamp": format_labels(future, clock, step), "forecast": pred, "lower": lower,
                        "upper": upper})
    return CsvForecast(out, step, notes, temps is not None)
