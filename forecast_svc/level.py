"""Level adaptation: a network or region forecast follows the level of the demand the service
actually measures, not the absolute level of the fleet its model was trained on.

A model trained on a 150,000-meter fleet answers ~266 MW for the network; a 2,000-meter network
measures ~1 MW. When the scope has measured actuals in the WINDOW before the forecast start, the
factor is the median over those steps of measured demand / the model's own prediction (Prophet,
no residual correction; the median ignores steps still being summed and a few odd ones). The
model then forecasts from its history divided by the factor (so the LSTM sees residuals at its own
level), and the forecast and its bands are multiplied by it. A fleet smaller than the training one
is noisier for its level (household noise does not average out), so the band is widened by the
spread of the measured steps around the scaled model beyond the model's own spread on its training
week (`ModelParams.window_spread_mw`, scaled, with KEEP's allowance): hypot(scaled band, excess).
Served at 3000 meters, the 150,000-meter network model's bands covered 0.54 / 0.45 of held-out
steps (seeds 7 / 11) scaled alone and 0.90 / 0.91 widened (docs/forecasting.md).

- Fewer than MIN_STEPS measured steps: the model's level, and the answer says so.
- A factor within KEEP of 1 keeps the model's level: the held-out figures (docs/forecasting.md) are
  for the model as is, and a week's ratio that close to 1 is within its weather and noise error.
- Bounded to [MIN_FACTOR, MAX_FACTOR]: one meter of a 1.2 M-meter network model to a model
  trained on a fleet 1,000 times smaller; beyond that the factor is clipped and the note says so.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast_svc.model import DemandModel, conformal_quantile

WINDOW = dt.timedelta(days=7)
MIN_STEPS = 8  # 2 h of 15-minute steps
KEEP = 0.10
MIN_FACTOR, MAX_FACTOR = 1e-6, 1e3
MIN_PREDICTION = 0.01  # steps where the model predicts < 1 % of its window median are left out


@dataclass(frozen=True)
class Level:
    factor: float  # what the model's forecast is multiplied by (1.0: the model's own level)
    ratio: float | None = None  # median measured / model over the window; None without actuals
    steps: int = 0  # measured steps the ratio is taken over
    spread: float = 0.0  # MW: conformal quantile of |measured - factor x model| over those steps

    @property
    def adapted(self) -> bool:
        return self.factor != 1.0

    def note(self) -> str:
        """What model_version says about the level ("" when the model's level stands, confirmed)."""
        if self.ratio is None:
            return f" (model level: no measured demand in the {WINDOW.days} days before start)"
        if not self.adapted:
            return ""
        clipped = ", clipped" if self.factor != self.ratio else ""
        return f" (level x {self.factor:.4g} from {self.steps} measured steps{clipped})"


def window(history: pd.DataFrame, start: dt.datetime) -> pd.DataFrame:
    """The measured steps in (start - WINDOW, start], finite and not negative."""
    ts = pd.Timestamp(start)
    w = history[(history["ds"] > ts - WINDOW) & (history["ds"] <= ts)]
    return w[np.isfinite(w["y"]) & (w["y"] >= 0)].reset_index(drop=True)


def from_ratio(measured: np.ndarray, predicted: np.ndarray, interval_level: float = 0.9) -> Level:
    """The level from measured demand and the model's prediction on the same steps; when adapted,
    with the spread of the measured steps around the scaled prediction (for the bands)."""
    measured, predicted = np.asarray(measured, float), np.asarray(predicted, float)
    ok = np.isfinite(predicted) & (predicted > 0)
    if ok.any():
        ok &= predicted >= MIN_PREDICTION * np.median(predicted[ok])
    if ok.sum() < MIN_STEPS:
        return Level(1.0, None, int(ok.sum()))
    ratio = float(np.median(measured[ok] / predicted[ok]))
    factor = 1.0 if abs(ratio - 1) <= KEEP else float(np.clip(ratio, MIN_FACTOR, MAX_FACTOR))
    spread = (conformal_quantile(np.abs(measured[ok] - factor * predicted[ok]), interval_level)
              if factor != 1.0 else 0.0)
    return Level(factor, ratio, int(ok.sum()), spread)


def measure(model: DemandModel, history: pd.DataFrame, start: dt.datetime) -> Level:
    w = window(history, start)
    if len(w) < MIN_STEPS:
        return Level(1.0, None, len(w))
    return from_ratio(w["y"].to_numpy(), model.level_at(w))


def forecast(model: DemandModel, history: pd.DataFrame, start: dt.datetime, steps: int,
             level: Level, temperature: np.ndarray | None = None) -> pd.DataFrame:
    """The model's forecast at `level` (temperature: a weather forecast for the steps, else the
    model's outlook): from the history at the model's level, then scaled back, the
    band widened by the measured spread in excess of the model's own (ModelParams.window_spread_mw)."""
    if not level.adapted:
        return model.forecast(history, pd.Timestamp(start), steps, temperature)
    f = model.forecast(history.assign(y=history["y"] / level.factor), pd.Timestamp(start), steps, temperature)
    f[["forecast", "lower", "upper"]] *= level.factor
    # What the measured steps scatter around the scaled model beyond what the model's own training
    # week scattered (scaled, KEEP allowed for the factor's own error): noise the training fleet
    # averaged away, added to the scaled band.
    own = (1 + KEEP) * level.factor * model.params.window_spread_mw
    excess = np.sqrt(max(0.0, level.spread ** 2 - own ** 2))
    half = np.hypot(f["upper"] - f["forecast"], excess)
    f["lower"], f["upper"] = f["forecast"] - half, f["forecast"] + half
    return f
