"""The standard ETTh1 benchmark (data.py): MSE / MAE of z-scored values over every test window.

Settings, as the literature names them:
- "S": univariate OT, OT's past only.
- "M": all 7 columns forecast from their own pasts (one ridge shared by the channels).
- "MS-physics": OT from OT's past plus the physics projection (projection.py), which uses the
  loads' past; not in the published tables (their S and M use no physics), so reported beside.
Peers computed on the same windows: last value repeated; the same hour yesterday repeated.
Look-back 336 h (DLinear's and PatchTST/42's). Every test window is scored (stride 1; the
LTSF-Linear code drops the last incomplete test batch, `drop_last=True`, a few windows fewer).
"""

from dataclasses import dataclass

import numpy as np

from scoring_svc.thermal.data import COLUMNS, TARGET, Etth1, Scaler, window_origins, windows
from scoring_svc.thermal.fit import FittedThermal
from scoring_svc.thermal.learnt import fit_with_validation
from scoring_svc.thermal.projection import PhysicsProjection

LOOKBACK = 336
HORIZONS = (96, 336)


@dataclass
class Scored:
    mse: float
    mae: float
    mae_by_step: np.ndarray  # (H,)


def score(pred: np.ndarray, truth: np.ndarray) -> Scored:
    err = pred - truth
    flat = err.reshape(-1, err.shape[-1])
    return Scored(float(np.mean(err ** 2)), float(np.mean(np.abs(err))), np.abs(flat).mean(axis=0))


def naive_last(past: np.ndarray, horizon: int) -> np.ndarray:
    return np.repeat(past[..., -1:], horizon, axis=-1)


def naive_yesterday(past: np.ndarray, horizon: int) -> np.ndarray:
    day = past[..., -24:]
    return np.concatenate([day] * int(np.ceil(horizon / 24)), axis=-1)[..., :horizon]


class Benchmark:
    def __init__(self, data: Etth1, physics: FittedThermal, quick: bool = False):
        self.data = data
        self.quick = quick  # every 24th test window only
        values = data.values(COLUMNS)
        self.scaler = Scaler.fit_train(values)
        self.z = self.scaler.transform(values)  # (rows, 7)
        self.ot_col = COLUMNS.index(TARGET)
        self.projection = PhysicsProjection(physics, data.frame)

    def origins(self, split: str, horizon: int) -> np.ndarray:
        o = window_origins(split, LOOKBACK, horizon)
        return o[::24] if self.quick and split == "test" else o

    def _channel_windows(self, split: str, horizon: int, channels: list[int]):
        o = self.origins(split, horizon)
        past, future = zip(*(windows(self.z[:, c], o, LOOKBACK, horizon) for c in channels))
        return np.stack(past, axis=1), np.stack(future, axis=1)  # (n, C, L), (n, C, H)

    def _physics_z(self, split: str, horizon: int) -> np.ndarray:
        proj = self.projection.forecast(self.origins(split, horizon), horizon)
        return (proj - self.scaler.mean[self.ot_col]) / self.scaler.std[self.ot_col]

    def run(self, setting: str, horizon: int) -> dict:
        channels = list(range(len(COLUMNS))) if setting == "M" else [self.ot_col]
        sets = {s: self._channel_windows(s, horizon, channels) for s in ("train", "val", "test")}
        flat = {s: (p.reshape(-1, LOOKBACK), f.reshape(-1, horizon)) for s, (p, f) in sets.items()}
        extra = {s: None for s in sets}
        if setting == "MS-physics":
            extra = {s: self._physics_z(s, horizon) for s in sets}
        model, val_mse = fit_with_validation((*flat["train"], extra["train"]), (*flat["val"], extra["val"]))
        past, future = sets["test"]
        ours = model.predict(flat["test"][0], extra["test"]).reshape(future.shape)
        out = {
            "ours": score(ours, future), "naive_last": score(naive_last(past, horizon), future),
            "naive_yesterday": score(naive_yesterday(past, horizon), future),
            "alpha": model.alpha, "val_mse": val_mse, "windows": len(past),
            "forecast": ours[:, 0, :], "truth": future[:, 0, :], "origins": self.origins("test", horizon),
        }
        if setting == "MS-physics":
            out["physics"] = score(extra["test"][:, None, :], future)
        return out
