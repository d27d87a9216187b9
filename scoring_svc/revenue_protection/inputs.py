"""SuspectInputs from hourly arrays, whoever read them: a generated fleet (evaluation.py) or the
platform's PostgreSQL (stored.py). The loss model is fitted on the first LOSS_FIT_SHARE of the
window (a theft that began before the window is the loss model's, not a step: it is not found).
"""

import numpy as np
import pandas as pd

from scoring_svc.revenue_protection.energy_balance import DAY_S, fit_loss_model, hourly_residual
from scoring_svc.revenue_protection.suspects import SuspectInputs

LOSS_FIT_SHARE = 0.12
HOUR_S = 3600


def transformer_hours(transformer_ids: np.ndarray, energy_hourly: np.ndarray, start_unix_s: int,
                      metered_hourly: np.ndarray, transformer_row: np.ndarray) -> pd.DataFrame:
    """energy_balance's frame (every transformer the same hours) from (T, H) energy (NaN: unknown)
    and (M, H) meter kWh summed into their transformers."""
    n_t, hours = energy_hourly.shape
    metered = np.zeros((n_t, hours))
    np.add.at(metered, transformer_row, metered_hourly)
    hour_ends = start_unix_s + HOUR_S * (np.arange(hours) + 1)
    return pd.DataFrame({"transformer_id": np.repeat(transformer_ids, hours), "hour_end_unix_s": np.tile(hour_ends, n_t),
                         "energy_kwh": energy_hourly.ravel(), "metered_kwh": metered.ravel()})


def suspect_inputs(meter_ids: np.ndarray, meter_transformers: np.ndarray, hourly_kwh: np.ndarray,
                   hours: pd.DataFrame, start_unix_s: int, days: int, interval_std: np.ndarray | None,
                   tamper: dict[int, np.ndarray] | None, solar_registered: np.ndarray | None) -> SuspectInputs:
    """Loss model on the first LOSS_FIT_SHARE of the days, each transformer's hourly residual, the inputs."""
    model = fit_loss_model(hours, start_unix_s + int(LOSS_FIT_SHARE * days) * DAY_S)
    tx, residual, sigma = hourly_residual(hours, model)
    return SuspectInputs(meter_ids, np.searchsorted(tx, meter_transformers), hourly_kwh, residual, sigma,
                         interval_std, tamper, solar_registered)
