"""Fit the IEC top-oil model to ETTh1 on the training months only.

ETTh1 gives loads and top-oil temperature but no ambient temperature and no nameplate. Assumptions:
- Load per unit: K = S / S_base with S = |(HUFL, HULL)| (the high-voltage side's useful and useless
  load taken as active and reactive parts of one apparent load) and S_base the training months'
  99th percentile of S. The units are the publisher's; a per-unit base error is absorbed by R
  and dθor (only R·K² enters).
- Ambient proxy: θa(t) = a0 + an annual harmonic (day of year) + a daily harmonic (hour of day),
  five coefficients fitted with the thermal parameters. It stands for the weather the data lack;
  the learnt model on top (learnt.py) re-anchors to the measured oil temperature at each origin.
- k11 fixed at 1.0 (IEC 60076-7 Table 5, distribution ONAN); τo fitted (only k11·τo matters).
Least squares (scipy.optimize.least_squares, bounded) of the simulated against the measured top-oil
temperature over the training rows, the simulation started from steady state at the first row.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from scoring_svc.thermal.data import BORDERS, Etth1
from scoring_svc.thermal.iec import ThermalParams, top_oil_rise

SUBSTEPS = 6
# rated rise K, R, x, τo min, ambient a0, annual cos, annual sin, daily cos, daily sin
_X0 = np.array([20.0, 5.0, 0.8, 180.0, 10.0, -8.0, 0.0, 1.0, 0.0])
_LO = np.array([1.0, 0.1, 0.5, 15.0, -30.0, -30.0, -30.0, -10.0, -10.0])
_HI = np.array([80.0, 20.0, 1.2, 3000.0, 40.0, 30.0, 30.0, 10.0, 10.0])


def apparent_load(frame: pd.DataFrame) -> np.ndarray:
    return np.hypot(frame["HUFL"].to_numpy(float), frame["HULL"].to_numpy(float))


def calendar_basis(dates: pd.Series) -> np.ndarray:
    """Columns 1, cos/sin of the day of year, cos/sin of the hour of day (local time)."""
    d = pd.DatetimeIndex(dates)
    year = 2 * np.pi * (d.day_of_year.to_numpy() - 1 + d.hour.to_numpy() / 24) / 365.25
    day = 2 * np.pi * d.hour.to_numpy() / 24
    return np.column_stack([np.ones(len(d)), np.cos(year), np.sin(year), np.cos(day), np.sin(day)])


@dataclass(frozen=True)
class FittedThermal:
    params: ThermalParams
    ambient_coef: np.ndarray  # over calendar_basis
    load_base: float  # S_base
    train_rmse: float

    def per_unit(self, frame: pd.DataFrame) -> np.ndarray:
        return apparent_load(frame) / self.load_base

    def ambient(self, dates: pd.Series) -> np.ndarray:
        return calendar_basis(dates) @ self.ambient_coef

    def simulate(self, frame: pd.DataFrame) -> np.ndarray:
        """Top-oil temperature (°C) from the loads alone, every row of `frame`, from steady state."""
        rise = top_oil_rise(self.per_unit(frame), self.params, substeps=SUBSTEPS)
        return self.ambient(frame["date"]) + rise


def _unpack(theta: np.ndarray) -> tuple[ThermalParams, np.ndarray]:
    return ThermalParams(theta[0], theta[1], theta[2], theta[3]), theta[4:]


def fit(data: Etth1) -> FittedThermal:
    train = data.split("train")
    s = apparent_load(train)
    base = float(np.quantile(s, 0.99))
    k = s / base
    basis = calendar_basis(train["date"])
    ot = train["OT"].to_numpy(float)

    def residual(theta: np.ndarray) -> np.ndarray:
        p, amb = _unpack(theta)
        return basis @ amb + top_oil_rise(k, p, substeps=SUBSTEPS) - ot

    lo = _LO.copy()
    lo[3] = max(lo[3], 60.0 / SUBSTEPS * 1.01)  # keep the sub-step inside the standard's stability bound
    sol = least_squares(residual, _X0, bounds=(lo, _HI), x_scale="jac")
    p, amb = _unpack(sol.x)
    return FittedThermal(p, amb, base, float(np.sqrt(np.mean(sol.fun ** 2))))


def physics_test_error(data: Etth1, model: FittedThermal) -> dict[str, float]:
    """MAE / RMSE (°C) of the load-driven simulation, run over the whole file, on each split's rows."""
    sim = model.simulate(data.frame)
    ot = data.frame["OT"].to_numpy(float)
    out = {}
    for name, (a, b) in BORDERS.items():
        err = sim[a:b] - ot[a:b]
        out[f"{name}_mae_c"] = float(np.mean(np.abs(err)))
        out[f"{name}_bias_c"] = float(np.mean(err))
    return out
