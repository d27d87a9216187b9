"""Rolling-origin backtest: from each local day start in the held-out span, forecast the next
`steps` steps knowing only the actuals before the origin, and score against what happened.
The model is the one trained before the span; only its inputs (recent actuals) roll forward."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast_svc import borrowed as borrowing
from forecast_svc.accuracy import coverage, mape_percent, within_5pct
from forecast_svc.bottom_up import sum_forecasts
from forecast_svc.model import STEPS_PER_DAY, DemandModel

WEEK = 7 * STEPS_PER_DAY


@dataclass
class Backtest:
    frames: list[pd.DataFrame]  # per origin: ds, forecast, lower, upper, actual, naive

    def figures(self) -> dict[str, float]:
        f = pd.concat(self.frames, ignore_index=True)
        mae, naive_mae = np.mean(np.abs(f.forecast - f.actual)), np.mean(np.abs(f.naive - f.actual))
        return {
            "within_5pct": within_5pct(f.forecast, f.actual),
            "mape": mape_percent(f.forecast, f.actual),
            "interval_coverage": coverage(f.lower, f.upper, f.actual),
            # The price of the coverage: mean band width (upper - lower) over mean forecast, in %.
            "interval_width_pct": float(100 * np.mean(f.upper - f.lower) / np.mean(f.forecast)),
            "skill_vs_naive": float(1 - mae / naive_mae),
            "naive_mape": mape_percent(f.naive, f.actual),
            "steps": float(len(f)),
        }


def run(model: DemandModel, series: pd.DataFrame, first_origin: int, steps: int = STEPS_PER_DAY,
        known_weather: bool = False, weather: np.ndarray | None = None) -> Backtest:
    """series: the whole regular series; origins at first_origin, +1 day, ... while `steps` fit.
    known_weather passes the true temperatures as a perfect weather forecast (ex-post); weather (on
    the series' steps) is a weather forecast instead, e.g. the truth plus a forecast error. The
    history before each origin keeps the observed temperatures either way."""
    y = series["y"].to_numpy()
    if known_weather and weather is None:
        weather = series["temperature_c"].to_numpy()
    frames = []
    for origin in range(first_origin, len(series) - steps + 1, STEPS_PER_DAY):
        temps = weather[origin:origin + steps] if weather is not None else None
        f = model.forecast(series.iloc[:origin], series["ds"].iloc[origin - 1], steps, temps)
        f["actual"] = y[origin:origin + steps]
        # Seasonal naive: the same step a week earlier.
        f["naive"] = y[origin - WEEK:origin - WEEK + steps] if origin >= WEEK else np.nan
        frames.append(f)
    return Backtest(frames)


def borrowed(model: DemandModel, parent_series: pd.DataFrame, series: pd.DataFrame, first_origin: int,
             steps: int = STEPS_PER_DAY) -> Backtest:
    """The rolling-origin backtest of a scope that borrows its parent's model, through the service's
    own function (borrowed.forecast) and with what the service would have measured: the scope's and
    the parent's demand (ds, y; no temperatures) over borrowed.HISTORY before each origin.
    parent_series and series: regular series on the same grid."""
    y = series["y"].to_numpy()
    frames = []
    for origin in range(first_origin, len(series) - steps + 1, STEPS_PER_DAY):
        start = series["ds"].iloc[origin - 1]
        since = start - borrowing.HISTORY
        measured = [s.loc[(s["ds"] >= since) & (s["ds"] <= start), ["ds", "y"]].dropna().reset_index(drop=True)
                    for s in (parent_series, series)]
        f = borrowing.forecast(model, *measured, start.to_pydatetime(), steps).frame
        f["actual"] = y[origin:origin + steps]
        f["naive"] = y[origin - WEEK:origin - WEEK + steps] if origin >= WEEK else np.nan
        frames.append(f)
    return Backtest(frames)


def pooled(parts: list[Backtest]) -> Backtest:
    """Several scopes' backtests scored together (a sample of substations, of transformers)."""
    return Backtest([f for p in parts for f in p.frames])


def summed(parts: list[Backtest]) -> Backtest:
    """The backtest of the sum of several scopes' forecasts (the network from its regions)."""
    return Backtest([sum_forecasts(list(frames)) for frames in zip(*(p.frames for p in parts))])
