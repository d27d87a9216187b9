"""IEC 60076-7 top-oil temperature rise, the difference-equation form (clause 8.2.2 / Annex C).

    D(dθo) = Dt / (k11 · τo) · [ ((1 + R·K²) / (1 + R))^x · dθor − dθo ]
    θo     = θa + dθo

K load per unit of rated, R ratio of load losses at rated current to no-load losses, x oil
exponent, dθor top-oil rise at rated load (K), τo oil time constant (min), k11 thermal model
constant. The standard asks for Dt well below k11·τo (at most half of it); hourly data are
stepped in `substeps` equal sub-steps with the hour's load held, which is the standard's own
recursion, run as a first-order IIR filter (scipy.signal.lfilter) instead of a Python loop:
with a = 1 − Dt/(k11·τo) each sub-step is dθo ← a·dθo + (1 − a)·u, so an hour of m sub-steps
is dθo ← a^m·dθo + (1 − a^m)·u.
"""

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter


@dataclass(frozen=True)
class ThermalParams:
    rated_rise: float  # dθor, K
    loss_ratio: float  # R
    oil_exponent: float  # x
    tau_minutes: float  # τo
    k11: float = 1.0  # IEC 60076-7 Table 5, distribution transformer ONAN; only k11·τo is identifiable here


def steady_state_rise(k: np.ndarray, p: ThermalParams) -> np.ndarray:
    """Ultimate top-oil rise (K) for a constant per-unit load K."""
    k = np.asarray(k, float)
    return p.rated_rise * ((1.0 + p.loss_ratio * k * k) / (1.0 + p.loss_ratio)) ** p.oil_exponent


def hourly_decay(p: ThermalParams, step_minutes: float = 60.0, substeps: int = 6) -> float:
    """a^m: the share of the top-oil rise kept over one data step of `substeps` IEC sub-steps."""
    dt = step_minutes / substeps
    a = 1.0 - dt / (p.k11 * p.tau_minutes)
    if not 0.0 <= a < 1.0:
        raise ValueError(f"sub-step {dt:.1f} min is too long for k11·τo = {p.k11 * p.tau_minutes:.1f} min")
    return a ** substeps


def top_oil_rise(k: np.ndarray, p: ThermalParams, step_minutes: float = 60.0, substeps: int = 6,
                 initial_rise: float | None = None) -> np.ndarray:
    """Top-oil rise at the end of each step, the load k[i] held over step i. The rise before the
    first step is `initial_rise` (default: the steady state of the first load)."""
    u = steady_state_rise(k, p)
    keep = hourly_decay(p, step_minutes, substeps)
    start = u[0] if initial_rise is None else initial_rise
    out, _ = lfilter([1.0 - keep], [1.0, -keep], u, zi=[keep * start])
    return out


def top_oil_rise_loop(k: np.ndarray, p: ThermalParams, step_minutes: float, substeps: int,
                      initial_rise: float) -> np.ndarray:
    """The same recursion written out step by step (the reference the tests hold the filter to)."""
    dt = step_minutes / substeps
    rise, out = initial_rise, np.empty(len(k))
    for i, ki in enumerate(np.asarray(k, float)):
        target = float(steady_state_rise(ki, p))
        for _ in range(substeps):
            rise += dt / (p.k11 * p.tau_minutes) * (target - rise)
        out[i] = rise
    return out
