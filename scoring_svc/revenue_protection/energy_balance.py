"""Transformer energy balance: the energy into each transformer against the sum of its meters.

Loss model per transformer, fitted by least squares on its own early history (hourly):
    energy_kwh - metered_kwh = no_load + a * |metered| + b * metered**2
(no-load loss while energised, and load-dependent losses: I^2R in the LV network and the
transformer's own K^2 load loss). The residual left after the modelled losses is energy nobody
metered: theft, unmetered stress load, or bad data. Signed net flow is assumed for the meters
(import - export), as the transformer's energy is net too.
"""

import numpy as np
import pandas as pd

DAY_S = 86_400
_FEATURES = 3


def _features(metered: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(metered), np.abs(metered), metered**2], axis=-1)


def _energised(energy: np.ndarray, metered: np.ndarray) -> np.ndarray:
    return (energy != 0) | (metered != 0)


def fit_loss_model(hours: pd.DataFrame, fit_until_unix_s: int, refits: int = 1) -> pd.DataFrame:
    """Coefficients per transformer (transformer_id, no_load_kwh, loss_abs, loss_sq, fit_hours, loss_sigma_kwh).

    hours: transformer_id, hour_end_unix_s, energy_kwh (NaN: unknown), metered_kwh (every transformer the same hours).
    One robust refit drops hours whose residual is beyond 4 MADs (partial outages, missing readings).
    """
    h = hours[hours["hour_end_unix_s"] <= fit_until_unix_s].sort_values(["transformer_id", "hour_end_unix_s"])
    tx = h["transformer_id"].unique()
    n_t = len(tx)
    e = h["energy_kwh"].to_numpy(float).reshape(n_t, -1)
    m = h["metered_kwh"].to_numpy(float).reshape(n_t, -1)
    known = np.isfinite(e)  # hours the transformer's energy is missing (NaN) do not fit
    x, y = _features(m), np.where(known, e - m, 0.0)
    w = (_energised(e, m) & known).astype(float)
    for it in range(refits + 1):
        xtx = np.einsum("thi,th,thj->tij", x, w, x) + 1e-9 * np.eye(_FEATURES)
        xty = np.einsum("thi,th,th->ti", x, w, y)
        coef = np.linalg.solve(xtx, xty[..., None])[..., 0]
        res = y - np.einsum("thi,ti->th", x, coef)
        sigma = _weighted_mad(res, w)
        if it < refits:
            w = w * (np.abs(res) <= 4.0 * sigma[:, None] + 1e-9)
    return pd.DataFrame({"transformer_id": tx, "no_load_kwh": coef[:, 0], "loss_abs": coef[:, 1],
                         "loss_sq": coef[:, 2], "fit_hours": w.sum(axis=1).astype(int), "loss_sigma_kwh": sigma})


def _weighted_mad(res: np.ndarray, w: np.ndarray) -> np.ndarray:
    r = np.where(w > 0, res, np.nan)
    med = np.nanmedian(r, axis=1)
    return 1.4826 * np.nanmedian(np.abs(r - med[:, None]), axis=1)


def expected_losses(hours: pd.DataFrame, model: pd.DataFrame) -> np.ndarray:
    """Modelled loss (kWh) for each row of hours (0 while not energised)."""
    coef = model.set_index("transformer_id").loc[hours["transformer_id"], ["no_load_kwh", "loss_abs", "loss_sq"]]
    m, e = hours["metered_kwh"].to_numpy(float), hours["energy_kwh"].to_numpy(float)
    return np.einsum("hi,hi->h", _features(m), coef.to_numpy()) * _energised(e, m)


def daily_balance(hours: pd.DataFrame, origin_unix_s: int, fit_until_unix_s: int,
                  model: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per transformer and day (day 0 starts at origin_unix_s): energy_kwh, metered_kwh, loss_kwh (modelled),
    residual_kwh = energy - metered - loss (unexplained), residual_share = residual / energy."""
    model = model if model is not None else fit_loss_model(hours, fit_until_unix_s)
    loss = expected_losses(hours, model)
    day = (hours["hour_end_unix_s"].to_numpy() - 1 - origin_unix_s) // DAY_S
    df = pd.DataFrame({"transformer_id": hours["transformer_id"].to_numpy(), "day": day,
                       "energy_kwh": hours["energy_kwh"].to_numpy(float),
                       "metered_kwh": hours["metered_kwh"].to_numpy(float), "loss_kwh": loss})
    out = df.groupby(["transformer_id", "day"], sort=True).sum().reset_index()
    out["residual_kwh"] = out["energy_kwh"] - out["metered_kwh"] - out["loss_kwh"]
    out["residual_share"] = out["residual_kwh"] / out["energy_kwh"].where(out["energy_kwh"].abs() > 1e-9)
    return out


def hourly_residual(hours: pd.DataFrame, model: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(transformer_ids, residual (T, H) kWh, robust sigma (T,)) from hours sorted by transformer, then hour.
    NaN where the transformer's energy is unknown or it was not energised."""
    h = hours.sort_values(["transformer_id", "hour_end_unix_s"], kind="stable")
    tx = h["transformer_id"].unique()
    e, m = h["energy_kwh"].to_numpy(float), h["metered_kwh"].to_numpy(float)
    res = e - m - expected_losses(h, model)
    res[~_energised(np.nan_to_num(e), m) | ~np.isfinite(e)] = np.nan
    res = res.reshape(len(tx), -1)
    med = np.nanmedian(res, axis=1, keepdims=True)
    sigma = 1.4826 * np.nanmedian(np.abs(res - med), axis=1)
    return tx, res, sigma
