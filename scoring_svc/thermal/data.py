"""ETTh1 (data/ett-transformer/ETTh1.csv, unmodified) and the literature's split (PROVENANCE.md).

Borders as in Informer / Autoformer / DLinear / PatchTST: 12 months train, 4 validate, 4 test, a
month counted as 30 days (rows 0-8639, 8640-11519, 11520-14399; the last 3,020 rows are unused).
Each column is z-scored with the training months' mean and standard deviation only. A window's
look-back may reach back into the previous split (the literature's `border1 - seq_len`); every
forecast target lies inside its own split.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ETTH1 = Path(__file__).resolve().parents[2] / "data" / "ett-transformer" / "ETTh1.csv"
LOADS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL")
TARGET = "OT"
COLUMNS = (*LOADS, TARGET)
MONTH_H = 30 * 24
BORDERS = {"train": (0, 12 * MONTH_H), "val": (12 * MONTH_H, 16 * MONTH_H), "test": (16 * MONTH_H, 20 * MONTH_H)}


@dataclass(frozen=True)
class Etth1:
    frame: pd.DataFrame  # date (local time, naive) + COLUMNS, every row of the file

    @classmethod
    def load(cls, path: Path = ETTH1) -> "Etth1":
        raw = pd.read_csv(path)
        raw["date"] = pd.to_datetime(raw["date"])
        return cls(raw)

    def rows(self, split: str) -> slice:
        a, b = BORDERS[split]
        return slice(a, b)

    def split(self, split: str) -> pd.DataFrame:
        return self.frame.iloc[self.rows(split)]

    def values(self, columns=COLUMNS) -> np.ndarray:
        return self.frame[list(columns)].to_numpy(float)


@dataclass(frozen=True)
class Scaler:
    """z-score with the training rows' statistics (population std, as sklearn's StandardScaler)."""
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit_train(cls, values: np.ndarray) -> "Scaler":
        train = values[slice(*BORDERS["train"])]
        return cls(train.mean(axis=0), train.std(axis=0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return z * self.std + self.mean


def window_origins(split: str, lookback: int, horizon: int) -> np.ndarray:
    """Forecast origins t (first target row) of every sliding window whose targets t..t+horizon-1
    lie in `split` and whose look-back t-lookback..t-1 lies in the file (stride 1, as the literature)."""
    a, b = BORDERS[split]
    first = max(a, lookback)
    return np.arange(first, b - horizon + 1)


def windows(series: np.ndarray, origins: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(past, future) for each origin: series[t-lookback:t] and series[t:t+horizon] (last axis = time)."""
    idx_past = origins[:, None] + np.arange(-lookback, 0)[None, :]
    idx_future = origins[:, None] + np.arange(horizon)[None, :]
    return series[idx_past], series[idx_future]
