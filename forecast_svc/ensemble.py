"""The lag model and the simple peers weighted per series by a rolling-origin backtest over the
series' own recent history, with intervals from that backtest's errors.

fit(): the last `backtest_days` (up to 28) of the history are held out; lag models (gbm.py, one per
training objective: L2 = mean, L1 = median) fitted on what came before forecast the horizon from
each of their origins (at the time of day the real forecast starts), beside the 4-week same-slot
mean and the same time last week. The objective and the weights (a 0.1 grid over the three,
summing to 1) are the ones with the lowest MAE over those origins among those whose energy is
within MAX_BIAS of the measured (else the least biased): a median forecast of a skewed household
load has the lowest MAE by forecasting 20-40 % too little energy, which no sum of forecasts can use; the
band per lead day is the split-conformal pair of quantiles of the weighted forecast's errors,
relative to the week's level before each origin (so it follows the level). Then the lag model is
refitted on the whole history. A series with under MIN_DAYS days cannot be backtested: SeriesError.
"""

from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pandas as pd

from forecast_svc import peers
from forecast_svc.gbm import OBJECTIVES, GbmModel
from forecast_svc.intervals import SeriesError
from forecast_svc.lag_features import level_scale

MIN_TRAIN_DAYS, MIN_BACKTEST_DAYS, MAX_BACKTEST_DAYS = 28, 7, 28
MIN_DAYS = MIN_TRAIN_DAYS + MIN_BACKTEST_DAYS
CANDIDATES = ("gbm", "mean_4w", "last_week")
MAX_BIAS = 0.05  # |energy forecast / energy measured - 1| over the backtest a choice may have
WEIGHTS = [w for w in product(np.round(np.arange(0, 1.01, 0.1), 1), repeat=2) if w[0] + w[1] <= 1.0 + 1e-9]


def candidates(gbm: GbmModel, y, cal, temps, origins, steps, spd) -> dict[str, np.ndarray]:
    f = {"gbm": gbm.predict(y, cal, temps, origins, steps),
         "mean_4w": peers.mean_4_weeks(y, origins, steps, spd),
         "last_week": peers.last_week(y, origins, steps, spd)}
    for k in ("mean_4w", "last_week"):  # a slot a peer has no value for takes the lag model's
        f[k] = np.where(np.isnan(f[k]), f["gbm"], f[k])
    return f


def blend(f: dict[str, np.ndarray], w: tuple[float, float, float]) -> np.ndarray:
    return sum(wi * f[k] for wi, k in zip(w, CANDIDATES))


@dataclass
class Ensemble:
    gbm: GbmModel
    spd: int
    weights: tuple[float, float, float]
    band_lo: list[float]  # per lead day: relative error quantiles (lower, upper) of the backtest
    band_hi: list[float]
    nonnegative: bool
    backtest: dict = field(default_factory=dict)  # MAE per candidate and of the weighting, origins
    objective: str = "l2"

    @staticmethod
    def fit(y: np.ndarray, cal: pd.DataFrame, temps: np.ndarray | None, phase: int, steps: int, spd: int,
            level: float = 0.9, seed: int = 0) -> "Ensemble":
        """y: the history on its grid (cal, temps: the grid extended by the horizon); phase: the
        step of the day (index mod spd) the forecasts will start at."""
        known = len(y)
        days = int(np.sum(~np.isnan(y)) // spd)
        if days < MIN_DAYS:
            raise SeriesError(f"history has {days} days of values; a rolling-origin backtest needs at least "
                              f"{MIN_DAYS} ({MIN_TRAIN_DAYS} to train on, {MIN_BACKTEST_DAYS} to test)")
        back = min(MAX_BACKTEST_DAYS, days - MIN_TRAIN_DAYS)
        first = known - back * spd
        first += (phase - first) % spd
        origins = np.arange(first, known - spd + 1, spd)
        t = origins[:, None] + np.arange(steps)[None, :]
        actual = np.where(t < known, y[np.clip(t, 0, known - 1)], np.nan)
        if np.count_nonzero(~np.isnan(actual)) < spd:
            raise SeriesError(f"the last {back} days of the history have under a day of values: nothing to "
                              "backtest the weights and bands on")
        known_steps = ~np.isnan(actual)
        energy = float(np.sum(np.abs(actual[known_steps])))
        f, score = {}, {}
        for obj in OBJECTIVES:
            trial = GbmModel.fit(y, cal, temps, int(origins[0]), phase, steps, spd, seed, obj)
            f[obj] = candidates(trial, y, cal, temps, origins, steps, spd)
            for w in WEIGHTS:
                e = (blend(f[obj], (w[0], w[1], 1 - w[0] - w[1])) - actual)[known_steps]
                score[obj, w] = (float(np.mean(np.abs(e))), abs(float(np.sum(e))) / max(energy, 1e-9))
        fair = [k for k, (_, bias) in score.items() if bias <= MAX_BIAS]
        obj, best = (min(fair, key=lambda k: (score[k][0], -k[1][0])) if fair
                     else min(score, key=lambda k: score[k][1]))
        weights = (float(best[0]), float(best[1]), round(1 - best[0] - best[1], 1))
        rel = (actual - blend(f[obj], weights)) / level_scale(y, origins, spd)[:, None]
        lo, hi = lead_day_quantiles(rel, spd, level)
        nonneg = bool(np.nanmin(y) >= 0)
        report = {k: float(np.nanmean(np.abs(v - actual))) for k, v in f[obj].items()}
        report.update(weighted=score[obj, best][0], bias=score[obj, best][1], origins=len(origins))
        final = GbmModel.fit(y, cal, temps, known, phase, steps, spd, seed, obj)
        return Ensemble(final, spd, weights, lo, hi, nonneg, report, obj)

    def predict(self, y: np.ndarray, cal: pd.DataFrame, temps: np.ndarray | None, origins: np.ndarray,
                steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(forecast, lower, upper), each origins x steps; only y before each origin is read."""
        origins = np.asarray(origins)
        pred = blend(candidates(self.gbm, y, cal, temps, origins, steps, self.spd), self.weights)
        day = np.minimum(np.arange(steps) // self.spd, len(self.band_lo) - 1)
        scale = level_scale(y, origins, self.spd)[:, None]
        lower, upper = pred + np.asarray(self.band_lo)[day] * scale, pred + np.asarray(self.band_hi)[day] * scale
        if self.nonnegative:
            pred, lower, upper = (np.clip(a, 0, None) for a in (pred, lower, upper))
        return pred, lower, upper

    def describe(self) -> str:
        w = ", ".join(f"{k} {v:.1f}" for k, v in zip(CANDIDATES, self.weights))
        mae = ", ".join(f"{k} {self.backtest[k]:.4g}" for k in (*CANDIDATES, "weighted"))
        return (f"weights {w}, lag model {self.objective}, from a backtest over {self.backtest['origins']} origins "
                f"(MAE {mae}; energy bias {self.backtest['bias']:.1%})")


def lead_day_quantiles(rel: np.ndarray, spd: int, level: float) -> tuple[list[float], list[float]]:
    """Per lead day the split-conformal lower and upper quantiles of the errors; a lead day with
    under a day of errors takes the previous one's x 1.15."""
    lo, hi = [], []
    for day in range(int(np.ceil(rel.shape[1] / spd))):
        e = rel[:, day * spd:(day + 1) * spd]
        e = np.sort(e[~np.isnan(e)])
        if len(e) < spd and lo:
            lo.append(lo[-1] * 1.15), hi.append(hi[-1] * 1.15)
            continue
        n, tail = len(e), (1 - level) / 2
        k_hi = min(n, int(np.ceil((n + 1) * (1 - tail)))) - 1
        k_lo = max(0, int(np.floor((n + 1) * tail)) - 1)
        lo.append(float(min(e[k_lo], 0.0))), hi.append(float(max(e[k_hi], 0.0)))
    return lo, hi
