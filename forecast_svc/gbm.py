"""The gradient-boosted lag model (LightGBM on lag_features.design): one direct model for every lead
of the horizon, trained on forecasts from past origins at the same time of day as the one it will
forecast from (so leads and times of day line up as they will)."""

import lightgbm as lgb
import numpy as np
import pandas as pd

from forecast_svc.lag_features import design

MAX_TRAIN_DAYS = 400  # origins used for training: the most recent ones
MIN_LAG_DAYS = 7  # an origin needs a week before it for its level
# Training objectives the ensemble chooses between per series: L2 forecasts the mean, L1 the median
# (lower MAE, but biased low on a skewed load such as one household's: ensemble.MAX_BIAS).
OBJECTIVES = ("l2", "l1")
PARAMS = dict(n_estimators=300, learning_rate=0.05, num_leaves=31, min_child_samples=40,
              subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0, num_threads=1,
              verbose=-1)


def training_origins(known: int, phase: int, steps: int, spd: int) -> np.ndarray:
    """Origins o = phase mod spd with a week before them and their whole horizon inside [0, known)."""
    first = MIN_LAG_DAYS * spd + (phase - MIN_LAG_DAYS * spd) % spd
    origins = np.arange(first, known - steps + 1, spd)
    return origins[-MAX_TRAIN_DAYS:]


class GbmModel:
    def __init__(self, booster: lgb.LGBMRegressor, spd: int, weather: bool):
        self.booster, self.spd, self.weather = booster, spd, weather

    @staticmethod
    def fit(y: np.ndarray, cal: pd.DataFrame, temps: np.ndarray | None, known: int, phase: int, steps: int,
            spd: int, seed: int = 0, objective: str = "l2") -> "GbmModel":
        """Trained on y[:known] only: origins at `phase` (mod a day) whose horizons end before `known`."""
        origins = training_origins(known, phase, steps, spd)
        if not len(origins):
            raise ValueError("no training origin: the history is too short")
        yk = y[:known]
        X, scale, target = design(yk, cal, temps, origins, steps, spd)
        label = yk[target] / scale
        ok = ~np.isnan(label)
        booster = lgb.LGBMRegressor(random_state=seed, objective=objective, **PARAMS)
        booster.fit(X[ok], label[ok])
        return GbmModel(booster, spd, temps is not None)

    def predict(self, y: np.ndarray, cal: pd.DataFrame, temps: np.ndarray | None, origins: np.ndarray,
                steps: int) -> np.ndarray:
        """(origins x steps) forecasts; only y before each origin is read."""
        X, scale, _ = design(y, cal, temps if self.weather else None, np.asarray(origins), steps, self.spd)
        return (self.booster.predict(X) * scale).reshape(len(origins), steps)
