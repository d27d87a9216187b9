"""The learnt forecaster: direct multi-step ridge regression on the look-back window.

NLinear-style (Zeng et al. 2023): the window's last value is subtracted from the inputs and the
targets and added back to the forecast, so a level shift between training and test months (ETTh1's
oil runs ~12 °C cooler in the test winter than in the training one) moves the forecast with it.
One linear map from L past values (plus optional exogenous columns, e.g. the physics projection,
also taken relative to the last value) to H future values, solved in closed form; the ridge
penalty is picked on the validation windows. Shared across channels in the multivariate setting
(channel-independent, as DLinear and PatchTST).
"""

from dataclasses import dataclass

import numpy as np

ALPHAS = (0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5)


def _design(past: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
    last = past[:, -1:]
    cols = [past - last]
    if extra is not None:
        cols.append(extra - last)
    return np.hstack(cols + [np.ones((len(past), 1))])


@dataclass
class RidgeForecaster:
    alpha: float
    weights: np.ndarray | None = None

    def fit(self, past: np.ndarray, future: np.ndarray, extra: np.ndarray | None = None) -> "RidgeForecaster":
        return fit_ridges(past, future, extra, (self.alpha,))[0]

    def predict(self, past: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        return _design(past, extra) @ self.weights + past[:, -1:]


def fit_ridges(past: np.ndarray, future: np.ndarray, extra: np.ndarray | None, alphas) -> list[RidgeForecaster]:
    """One model per alpha from one pass over the data (the Gram matrix is shared)."""
    x = _design(past, extra)
    gram, xty = x.T @ x, x.T @ (future - past[:, -1:])
    models = []
    for alpha in alphas:
        penalty = alpha * np.eye(len(gram))
        penalty[-1, -1] = 0.0  # no penalty on the intercept
        models.append(RidgeForecaster(alpha, np.linalg.solve(gram + penalty, xty)))
    return models


def fit_with_validation(train: tuple, val: tuple, alphas=ALPHAS) -> tuple[RidgeForecaster, float]:
    """train / val = (past, future, extra or None): the model of the alpha with the lowest validation MSE."""
    scored = [(float(np.mean((m.predict(val[0], val[2]) - val[1]) ** 2)), m) for m in fit_ridges(*train, alphas)]
    best_mse, best = min(scored, key=lambda s: s[0])
    return best, best_mse
