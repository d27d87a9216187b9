"""A realistic day-ahead weather forecast for the backtests: the observed temperature plus an error
that drifts smoothly through the day (an hourly AR(1), interpolated to the steps) rather than white
noise per step, since a forecast's misses come in spells (a front an hour late, a cooler afternoon).
"""

import numpy as np

PHI_PER_HOUR = 0.85  # hour-to-hour correlation of the error


def noisy(temps: np.ndarray, rms_c: float, seed: int, steps_per_hour: int = 4) -> np.ndarray:
    """temps plus an error of stationary RMS rms_c (degC), the same seed giving the same error."""
    rng = np.random.default_rng(seed)
    hours = len(temps) // steps_per_hour + 2
    e = np.empty(hours)
    e[0] = rng.normal(0.0, rms_c)
    shocks = rng.normal(0.0, rms_c * np.sqrt(1 - PHI_PER_HOUR ** 2), hours)
    for h in range(1, hours):
        e[h] = PHI_PER_HOUR * e[h - 1] + shocks[h]
    error = np.interp(np.arange(len(temps)) / steps_per_hour, np.arange(hours), e)
    return np.asarray(temps, dtype=float) + error
