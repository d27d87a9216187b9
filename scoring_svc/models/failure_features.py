"""Transformer features for failure prediction, shared by training and serving.

    feats = transformer_features(telemetry, anomaly_counts, at_times, transformers, baseline)

A degrading transformer runs hotter, loses more and draws more than its load explains,
and its meters see more sags. Raw temperatures mostly say how loaded and how hot the day
is, so besides the plan's features (age, utilisation avg/max, temperature avg/max, 7-day
anomaly count, days since maintenance, efficiency trend) each signal is also expressed as
a residual against a thermal/loss baseline fitted on training telemetry (the role an
IEEE C57.91 thermal model plays at a utility), then as the change of that residual over
the last hours against the transformer's own previous week, and (failure_own_baseline.py) as z-scores
of the last 1-6 h against a refit on that unit's own week, which shows a fault's onset within hours.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring_svc.models.failure_own_baseline import own_z

HOUR = 3600
WEEK_H = 168

FEATURES = [
    "age_years", "days_since_maintenance", "log_capacity_kva",
    "load_utilization_avg", "load_utilization_max", "load_utilization_6h", "load_utilization_ratio_7d",
    "temperature_avg", "temperature_max",
    "oil_residual_6h", "oil_residual_trend", "winding_residual_6h", "winding_residual_trend",
    "oil_residual_slope", "winding_residual_slope",
    "loss_residual_6h", "efficiency_trend",
    "anomaly_count_7d", "anomaly_count_24h", "anomaly_count_6h", "anomaly_rate_trend",
    "oil_residual_trend_3h", "winding_residual_trend_3h", "efficiency_trend_3h", "anomaly_count_3h",
    "loss_residual_trend_24h", "oil_residual_trend_24h",
    "loss_own_z_1h", "loss_own_z_3h", "loss_own_z_6h", "winding_own_z_1h", "winding_own_z_3h", "winding_own_z_6h",
    "oil_own_z_3h", "oil_own_z_6h", "sag_own_z_3h", "sag_own_z_6h", "onset_own_z_3h", "onset_own_z_6h",
]


def _basis(u: np.ndarray) -> np.ndarray:
    u = np.clip(np.nan_to_num(u, nan=0.0), 0.0, 3.0)
    return np.column_stack([np.ones_like(u), u, u**2, u**3, np.log(u + 0.01)])


@dataclass
class ThermalBaseline:
    """Least-squares fits of oil rise, winding-over-oil rise and log loss ratio on utilisation."""

    oil: np.ndarray
    winding: np.ndarray
    loss: np.ndarray

    @classmethod
    def fit(cls, telemetry: pd.DataFrame) -> "ThermalBaseline":
        t = telemetry[telemetry["in_service"] & np.isfinite(telemetry["efficiency"])
                      & (telemetry["efficiency"] > 0) & (telemetry["efficiency"] < 1)]
        x = _basis(t["load_utilization"].to_numpy())
        oil, wind, loss = _targets(t)

        def lstsq(y):
            return np.linalg.lstsq(x, y, rcond=None)[0]

        return cls(lstsq(oil), lstsq(wind), lstsq(loss))

    def residuals(self, t: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = _basis(t["load_utilization"].to_numpy())
        oil, wind, loss = _targets(t)
        return oil - x @ self.oil, wind - x @ self.winding, loss - x @ self.loss

    def to_dict(self) -> dict:
        return {"oil": self.oil.tolist(), "winding": self.winding.tolist(), "loss": self.loss.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "ThermalBaseline":
        return cls(np.array(d["oil"]), np.array(d["winding"]), np.array(d["loss"]))


def _targets(t: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    eff = t["efficiency"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.log(np.clip(1.0 / eff - 1.0, 1e-6, None))
    return ((t["oil_temp_c"] - t["ambient_temp_c"]).to_numpy(),
            (t["winding_temp_c"] - t["oil_temp_c"]).to_numpy(), loss)


def transformer_features(telemetry: pd.DataFrame, anomaly_counts: pd.DataFrame, at_times,
                         transformers: pd.DataFrame, baseline: ThermalBaseline) -> pd.DataFrame:
    """One row per (transformer in telemetry, time in at_times) using telemetry up to that time.

    telemetry: hourly rows as meters.fleet writes them (transformer_id, hour_end_unix_s,
    load_kva, peak_load_kva, load_utilization, ambient/oil/winding temps, efficiency,
    in_service); give at least the 7 days before the earliest time. anomaly_counts:
    transformer_id, hour_end_unix_s, anomaly_count (anomalous readings under it that hour).
    transformers: transformer_id, capacity_kva, age_years, last_maintenance_unix_s.
    Returns transformer_id, hour_end_unix_s, in_service and FEATURES columns.
    """
    at = np.unique(np.atleast_1d(np.asarray(at_times, dtype=np.int64)) // HOUR * HOUR)
    tel = telemetry.sort_values(["transformer_id", "hour_end_unix_s"])
    tx = np.unique(tel["transformer_id"].to_numpy())
    h0 = int(min(tel["hour_end_unix_s"].min(), at.min()))
    hours = np.arange(h0, int(at.max()) + HOUR, HOUR)
    ti = np.searchsorted(tx, tel["transformer_id"].to_numpy())
    hi = (tel["hour_end_unix_s"].to_numpy() - h0) // HOUR
    ok = (hi >= 0) & (hi < len(hours))
    ti, hi, tel = ti[ok], hi[ok], tel[ok]
    shape = (len(tx), len(hours))

    def grid(values: np.ndarray) -> np.ndarray:
        g = np.full(shape, np.nan)
        g[ti, hi] = values
        return g

    in_service = grid(tel["in_service"].to_numpy().astype(np.float64)) > 0
    live = in_service  # out-of-service hours say nothing about health: leave them out of every mean

    def masked(values: np.ndarray) -> np.ndarray:
        g = grid(values)
        g[~live] = np.nan
        return g

    util = masked(tel["load_utilization"].to_numpy())
    oil_r, wind_r, loss_r = baseline.residuals(tel)
    oil_r, wind_r, loss_r = masked(oil_r), masked(wind_r), masked(loss_r)
    oil = masked(tel["oil_temp_c"].to_numpy())
    winding = masked(tel["winding_temp_c"].to_numpy())
    peak_util = masked((tel["peak_load_kva"] / np.maximum(tel["load_kva"], 1e-9)).to_numpy()) * util

    counts = np.zeros(shape)
    if len(anomaly_counts):
        ac = anomaly_counts[np.isin(anomaly_counts["transformer_id"], tx)]
        ci = np.searchsorted(tx, ac["transformer_id"].to_numpy())
        ch = (ac["hour_end_unix_s"].to_numpy() // HOUR * HOUR - h0) // HOUR
        k = (ch >= 0) & (ch < len(hours))
        np.add.at(counts, (ci[k], ch[k]), ac["anomaly_count"].to_numpy()[k])

    cols = np.searchsorted(hours, at)
    f = {
        "load_utilization_avg": _window(util, 24, cols, "mean"),
        "load_utilization_max": _window(peak_util, 24, cols, "max"),
        "load_utilization_6h": _window(util, 6, cols, "mean"),
        "temperature_avg": _window(oil, 24, cols, "mean"),
        "temperature_max": _window(winding, 24, cols, "max"),
        "oil_residual_6h": _window(oil_r, 6, cols, "mean"),
        "winding_residual_6h": _window(wind_r, 6, cols, "mean"),
        "loss_residual_6h": _window(loss_r, 6, cols, "mean"),
        "anomaly_count_7d": _window(counts, WEEK_H, cols, "sum"),
        "anomaly_count_24h": _window(counts, 24, cols, "sum"),
        "anomaly_count_6h": _window(counts, 6, cols, "sum"),
    }
    # Trends: the last 6 h against the transformer's own previous week (hours 24-168 back).
    prior = {name: _window(g, WEEK_H - 24, cols - 24, "mean") for name, g in
             (("util", util), ("oil", oil_r), ("wind", wind_r), ("loss", loss_r))}
    f["load_utilization_ratio_7d"] = f["load_utilization_avg"] / np.maximum(prior["util"], 1e-3)
    f["oil_residual_trend"] = f["oil_residual_6h"] - prior["oil"]
    f["winding_residual_trend"] = f["winding_residual_6h"] - prior["wind"]
    f["efficiency_trend"] = f["loss_residual_6h"] - prior["loss"]
    # Slope: last 3 h against the 6 h before. A degradation about to fail is still rising; one
    # that is recovering has turned down, though its level is as high.
    for name, g in (("oil_residual_slope", oil_r), ("winding_residual_slope", wind_r)):
        f[name] = _window(g, 3, cols, "mean") - _window(g, 6, cols - 3, "mean")
    f["anomaly_rate_trend"] = f["anomaly_count_24h"] - f["anomaly_count_7d"] / 7.0
    # Early warning: an incipient fault steps up at onset, so the last 3 h against the own week
    # already shows it; the last 24 h against that week shows a sustained rise (noise averages out).
    f["oil_residual_trend_3h"] = _window(oil_r, 3, cols, "mean") - prior["oil"]
    f["winding_residual_trend_3h"] = _window(wind_r, 3, cols, "mean") - prior["wind"]
    f["efficiency_trend_3h"] = _window(loss_r, 3, cols, "mean") - prior["loss"]
    f["anomaly_count_3h"] = _window(counts, 3, cols, "sum")
    f["loss_residual_trend_24h"] = _window(loss_r, 24, cols, "mean") - prior["loss"]
    f["oil_residual_trend_24h"] = _window(oil_r, 24, cols, "mean") - prior["oil"]

    # Onset: each signal against the unit's own previous week (failure_own_baseline.py). The hot spot over
    # oil is fitted on the thermal model's own shape (rated gradient x K^1.6, K from the hour's mean and
    # peak), which holds under overload too; losses and oil on the fleet fit's residuals.
    u = np.clip(util, 0.0, 3.0)
    quad = np.stack([np.ones_like(u), u, u**2], axis=-1)
    uu = np.where(np.isfinite(util), np.maximum(util, 0.02), np.nan)
    pu = np.nan_to_num(np.where(np.isfinite(peak_util), peak_util, util), nan=0.0)
    gradient = np.stack([np.ones_like(uu), uu**1.6, np.where(np.isfinite(uu), pu, np.nan)**1.6], axis=-1)
    for name, g, basis in (("loss", loss_r, quad), ("winding", winding - oil, gradient), ("oil", oil_r, quad)):
        for k, v in own_z(g, basis, cols, (1, 3, 6)).items():
            f[f"{name}_own_z_{k}h"] = v
    zc = own_z(np.where(live, counts, np.nan), np.where(np.isfinite(util), 1.0, np.nan)[..., None], cols, (3, 6))
    f["sag_own_z_3h"], f["sag_own_z_6h"] = zc[3], zc[6]
    for k in (3, 6):
        f[f"onset_own_z_{k}h"] = (np.nan_to_num(f[f"loss_own_z_{k}h"]) + np.nan_to_num(f[f"winding_own_z_{k}h"])
                                  + np.nan_to_num(f[f"sag_own_z_{k}h"])) / np.sqrt(3)

    n_t = len(at)
    meta = transformers.set_index("transformer_id").reindex(tx)
    out = pd.DataFrame({
        "transformer_id": np.repeat(tx, n_t),
        "hour_end_unix_s": np.tile(at, len(tx)),
        "in_service": in_service[:, cols].ravel(),
    })
    out["age_years"] = np.repeat(meta["age_years"].to_numpy(), n_t)
    out["days_since_maintenance"] = (np.tile(at, len(tx)) - np.repeat(
        meta["last_maintenance_unix_s"].to_numpy(), n_t)) / 86_400.0
    out["log_capacity_kva"] = np.repeat(np.log(meta["capacity_kva"].to_numpy().astype(np.float64)), n_t)
    for name in FEATURES[3:]:
        out[name] = f[name].ravel()
    return out


def _window(g: np.ndarray, width: int, cols: np.ndarray, how: str) -> np.ndarray:
    """Statistic over hours (col - width, col] of each row, NaNs ignored: (rows, len(cols))."""
    out = np.full((g.shape[0], len(cols)), np.nan)
    for j, c in enumerate(cols):  # prediction times: one per hour at most (training) or one (serving)
        lo, hi = max(0, c - width + 1), c + 1
        if hi <= lo:
            continue
        block = g[:, lo:hi]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window is NaN: XGBoost handles it
            if how == "mean":
                out[:, j] = np.nanmean(block, axis=1)
            elif how == "max":
                out[:, j] = np.nanmax(block, axis=1)
            else:
                out[:, j] = np.nansum(block, axis=1)
    return out

