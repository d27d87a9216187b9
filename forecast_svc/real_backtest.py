"""Rolling-origin day-ahead backtests on a real series: our model (ensemble.py) and each peer
(peers.py), computed in the same run on the same origins and scored on the same steps.

Origins are local midnights. They come in FOLDS blocks of FOLD_DAYS consecutive days (each weekday
once), spread evenly over the last year of the series (or what it has after TRAIN_DAYS). Before
each block our model and the LightGBM peer are fitted on everything before it (at most the last
gbm.MAX_TRAIN_DAYS days of origins); inside it only their inputs (actuals before each origin) roll
on. MSTL and the two seasonal peers are recomputed at every origin from what precedes it."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecast_svc import peers
from forecast_svc.accuracy import coverage, mape_percent, within_5pct
from forecast_svc.ensemble import MIN_DAYS, Ensemble
from forecast_svc.lag_features import calendar_frame
from forecast_svc.real_series import RealSeries

FOLDS, FOLD_DAYS, TRAIN_DAYS, SPAN_DAYS = 4, 7, 91, 364
MIN_PRESENT = 0.8
OURS, PEERS = "model", ("mean_4w", "last_week", "mstl", "lgbm_lags")
MODELS = (OURS, *PEERS)


@dataclass
class Result:
    series: RealSeries
    origins: np.ndarray
    actual: np.ndarray  # origins x steps
    forecasts: dict[str, np.ndarray]
    lower: np.ndarray
    upper: np.ndarray
    notes: list[str]

    def scored(self) -> np.ndarray:
        """Steps every model forecast and that have an actual."""
        ok = ~np.isnan(self.actual)
        for f in self.forecasts.values():
            ok &= ~np.isnan(f)
        return ok

    def figures(self) -> dict[str, dict[str, float]]:
        ok = self.scored()
        a = self.actual[ok]
        mae = {m: float(np.mean(np.abs(f[ok] - a))) for m, f in self.forecasts.items()}
        out = {}
        for m, f in self.forecasts.items():
            out[m] = {"mape": mape_percent(f[ok], a), "mae": mae[m], "mae_skill": 1 - mae[m] / mae["last_week"],
                      "within_5pct": within_5pct(f[ok], a),
                      # energy forecast over energy measured - 1, %: a median forecast of a skewed
                      # household load wins on MAE by forecasting low
                      "bias_pct": float(100 * (np.sum(f[ok]) / np.sum(a) - 1))}
        out[OURS]["interval_coverage"] = coverage(self.lower[ok], self.upper[ok], a)
        out[OURS]["steps"] = float(ok.sum())
        return out


def midnight_origins(s: RealSeries) -> np.ndarray:
    """Indices of the first step of each local day (its interval starts at local midnight)."""
    start = (s.ends - s.step).tz_convert(s.calendar.zone)
    return np.flatnonzero((start.hour == 0) & (start.minute == 0))


def fold_blocks(s: RealSeries, folds: int = FOLDS, fold_days: int = FOLD_DAYS) -> list[np.ndarray]:
    """Blocks of origins; an origin qualifies when its day and the MIN_DAYS before it are at least
    MIN_PRESENT measured (a household's long gaps leave nothing to fit the weights and bands on)."""
    mids = midnight_origins(s)
    mids = mids[(mids >= TRAIN_DAYS * s.spd) & (mids + s.spd <= len(s.y))]
    present = np.concatenate([[0], np.cumsum(~np.isnan(s.y))])
    before = (present[mids] - present[mids - MIN_DAYS * s.spd]) / (MIN_DAYS * s.spd)
    day = (present[mids + s.spd] - present[mids]) / s.spd
    mids = mids[(before >= MIN_PRESENT) & (day >= MIN_PRESENT)]
    if len(mids) < folds * fold_days:
        raise ValueError(f"{s.name}: too short for {folds} folds of {fold_days} days after {TRAIN_DAYS} days")
    span = mids[-min(len(mids), SPAN_DAYS):]
    starts = np.linspace(0, len(span) - fold_days, folds).astype(int)
    return [span[i:i + fold_days] for i in starts]


def run(s: RealSeries, folds: int = FOLDS, fold_days: int = FOLD_DAYS, temps: np.ndarray | None = None,
        seed: int = 0) -> Result:
    spd, y = s.spd, s.y
    cal = calendar_frame(s.ends, s.step, s.calendar)
    parts = {m: [] for m in MODELS}
    lower, upper, notes, all_origins = [], [], [], []
    for block in fold_blocks(s, folds, fold_days):
        o0 = int(block[0])
        model = Ensemble.fit(y[:o0], cal, temps, o0 % spd, spd, spd, seed=seed)
        notes.append(model.describe())
        f, lo, hi = model.predict(y, cal, temps, block, spd)
        parts[OURS].append(f), lower.append(lo), upper.append(hi)
        parts["mean_4w"].append(peers.mean_4_weeks(y, block, spd, spd))
        parts["last_week"].append(peers.last_week(y, block, spd, spd))
        parts["mstl"].append(peers.mstl(y, block, spd, spd))
        parts["lgbm_lags"].append(peers.LgbmLagsPeer(y, s.ends, o0, spd, seed).predict(y, block, spd))
        all_origins.append(block)
    origins = np.concatenate(all_origins)
    t = origins[:, None] + np.arange(spd)[None, :]
    return Result(s, origins, y[t], {m: np.vstack(v) for m, v in parts.items()}, np.vstack(lower),
                  np.vstack(upper), notes)


def frame(r: Result) -> pd.DataFrame:
    """Long form for plots: ds, actual, each model, lower, upper."""
    t = r.origins[:, None] + np.arange(r.actual.shape[1])[None, :]
    out = pd.DataFrame({"ds": r.series.ends[t.ravel()], "actual": r.actual.ravel(),
                        "lower": r.lower.ravel(), "upper": r.upper.ravel()})
    for m, f in r.forecasts.items():
        out[m] = f.ravel()
    return out
