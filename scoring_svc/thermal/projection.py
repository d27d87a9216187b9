"""The physics model as a forecaster: top-oil temperature over the next H hours from the origin.

At origin t (the first unseen hour) it knows the loads and oil temperatures before t. It
- estimates the ambient offset the calendar proxy misses as the mean of (measured − simulated) oil
  temperature over the last week (a slowly varying offset, re-estimated at every origin),
- starts the IEC recursion from the measured top-oil rise at t−1 (measured − ambient − offset),
- drives it with the load of the same hour the day before, repeated (future load is unknown),
  and the calendar ambient proxy plus that offset.
The recursion is linear, so every origin's H-step run is one matrix product (no Python loop).
"""

import numpy as np
import pandas as pd

from scoring_svc.thermal.fit import FittedThermal
from scoring_svc.thermal.iec import hourly_decay, steady_state_rise

OFFSET_HOURS = 168


class PhysicsProjection:
    def __init__(self, model: FittedThermal, frame: pd.DataFrame):
        self.model = model
        self.ot = frame["OT"].to_numpy(float)
        self.ambient = model.ambient(frame["date"])
        self.u = steady_state_rise(model.per_unit(frame), model.params)
        residual = self.ot - model.simulate(frame)
        c = np.concatenate([[0.0], np.cumsum(residual)])
        self._residual_sum = c
        self.keep = hourly_decay(model.params, substeps=6)

    def offset(self, origins: np.ndarray) -> np.ndarray:
        lo = np.maximum(origins - OFFSET_HOURS, 0)
        return (self._residual_sum[origins] - self._residual_sum[lo]) / np.maximum(origins - lo, 1)

    def forecast(self, origins: np.ndarray, horizon: int) -> np.ndarray:
        """(len(origins), horizon) oil temperature °C."""
        h = np.arange(horizon)
        off = self.offset(origins)
        rise0 = self.ot[origins - 1] - self.ambient[origins - 1] - off
        u = self.u[origins[:, None] - 24 + (h[None, :] % 24)]  # same hour yesterday, repeated
        lag = h[:, None] - h[None, :]
        m = np.where(lag >= 0, (1.0 - self.keep) * self.keep ** np.maximum(lag, 0), 0.0)
        rise = u @ m.T + self.keep ** (h + 1)[None, :] * rise0[:, None]
        return self.ambient[origins[:, None] + h[None, :]] + off[:, None] + rise
