"""A fitted Prophet model evaluated with numpy alone.

Given its fitted parameters Prophet's forecast is linear in its features:
    yhat = trend(t) * (1 + X @ beta_mult) + y_scale * X @ beta_add
with X the Fourier terms of each (conditional) seasonality, the holiday indicators and the
standardised extra regressors. `Prophet.predict` builds X through several pandas frames per call
(tens of ms, hundreds on a busy box); here each column is a few numpy operations. The column
order, names and parameters are read from the fitted model, and tests check the result against
`Prophet.predict` itself.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from prophet import Prophet

DAY_S = 86_400.0


@dataclass(frozen=True)
class _Column:
    kind: str  # "fourier", "holiday" or "regressor"
    source: str  # seasonality, holiday or regressor name
    index: int = 0  # Fourier column index (sin 1, cos 1, sin 2, ...)


class LinearProphet:
    def __init__(self, m: Prophet):
        if m.growth == "logistic" or m.params is None:
            raise ValueError("only fitted linear or flat-trend models")
        self.growth = m.growth
        self.y_scale = float(m.y_scale)
        self.start_s = pd.Timestamp(m.start).value / 1e9
        self.t_scale_s = pd.Timedelta(m.t_scale).total_seconds()
        self.k = float(np.nanmean(m.params["k"]))
        self.m = float(np.nanmean(m.params["m"]))
        self.deltas = np.nanmean(m.params["delta"], axis=0)
        self.changepoints_t = np.asarray(m.changepoints_t if m.changepoints_t is not None else [], float)
        self.seasonalities = {name: (float(p["period"]), p["condition_name"]) for name, p in m.seasonalities.items()}
        self.regressors = {name: (float(p["mu"]), float(p["std"])) for name, p in m.extra_regressors.items()}
        self.holiday_days = _holiday_days(m)
        cols = m.train_component_cols
        beta = np.nanmean(m.params["beta"], axis=0)
        self.columns = [_parse(name, m) for name in _feature_names(m)]
        self.beta_mult = beta * cols["multiplicative_terms"].to_numpy()
        self.beta_add = beta * cols["additive_terms"].to_numpy() * self.y_scale

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """yhat for a frame shaped like Prophet's input (ds naive, conditions, regressors)."""
        ds = pd.DatetimeIndex(frame["ds"]).as_unit("ns")
        seconds = ds.asi8 / 1e9
        days = seconds / DAY_S
        x = np.empty((len(frame), len(self.columns)))
        fourier: dict[str, np.ndarray] = {}
        dates = None
        for j, col in enumerate(self.columns):
            if col.kind == "fourier":
                if col.source not in fourier:
                    fourier[col.source] = self._fourier(col.source, days, frame)
                x[:, j] = fourier[col.source][:, col.index]
            elif col.kind == "holiday":
                dates = ds.normalize().asi8 if dates is None else dates
                x[:, j] = np.isin(dates, self.holiday_days[col.source])
            else:
                mu, std = self.regressors[col.source]
                x[:, j] = (np.asarray(frame[col.source], float) - mu) / std
        return self._trend((seconds - self.start_s) / self.t_scale_s) * (1 + x @ self.beta_mult) + x @ self.beta_add

    def _fourier(self, name: str, days: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        period, condition = self.seasonalities[name]
        order = sum(1 for c in self.columns if c.source == name) // 2
        angle = (2 * np.pi / period) * np.outer(days, np.arange(1, order + 1))
        out = np.empty((len(days), 2 * order))
        out[:, 0::2], out[:, 1::2] = np.sin(angle), np.cos(angle)
        if condition is not None:
            out *= np.asarray(frame[condition], bool)[:, None]
        return out

    def _trend(self, t: np.ndarray) -> np.ndarray:
        if self.growth == "flat":
            return np.full(len(t), self.m * self.y_scale)
        return Prophet.piecewise_linear(t, self.deltas, self.k, self.m, self.changepoints_t) * self.y_scale


def _feature_names(m: Prophet) -> list[str]:
    """Prophet's feature columns in the order of its beta, from one row of its own history."""
    features = m.make_all_seasonality_features(m.history.iloc[:1].copy())[0]
    return list(features.columns)


def _parse(name: str, m: Prophet) -> _Column:
    prefix, _, suffix = name.rpartition("_delim_")
    if prefix in m.seasonalities:
        return _Column("fourier", prefix, int(suffix) - 1)
    if name in m.extra_regressors:
        return _Column("regressor", name)
    if prefix and suffix[:1] in "+-":
        return _Column("holiday", name)
    raise ValueError(f"unsupported Prophet feature column {name!r}")


def _holiday_days(m: Prophet) -> dict[str, np.ndarray]:
    """Feature column -> the dates (ns since epoch, midnight) where it is 1."""
    out: dict[str, list[int]] = {}
    if m.holidays is None:
        return {}
    for row in m.holidays.itertuples():
        lw, uw = int(getattr(row, "lower_window", 0) or 0), int(getattr(row, "upper_window", 0) or 0)
        day = pd.Timestamp(row.ds).normalize()
        for offset in range(lw, uw + 1):
            key = f"{row.holiday}_delim_{'+' if offset >= 0 else '-'}{abs(offset)}"
            out.setdefault(key, []).append((day + pd.Timedelta(days=offset)).as_unit("ns").value)
    return {k: np.array(v, dtype=np.int64) for k, v in out.items()}
