"""Overload and ageing outlook from a top-oil forecast (IEC 60076-7 clauses 6 and 7).

Hot-spot  θh = θo + H·gr·K^y        (the winding time constant, ~4 min, is far below an hour: steady)
Ageing    V  = 2^((θh − 98) / 6)    (non-thermally-upgraded paper; V = 1 at 98 °C)
Limits    top oil 105 °C, hot spot 120 °C (Table 4, normal cyclic loading)
ETTh1 gives no winding temperature: H·gr = 23 K and y = 1.6 are the standard's distribution-transformer
ONAN values (Table 5), so the hot spot here is the standard's estimate, not a measurement.
"""

from dataclasses import dataclass

import numpy as np

HOT_SPOT_GRADIENT_K = 23.0  # H·gr
WINDING_EXPONENT = 1.6  # y
TOP_OIL_LIMIT_C = 105.0
HOT_SPOT_LIMIT_C = 120.0


@dataclass(frozen=True)
class Outlook:
    hot_spot_c: np.ndarray  # same shape as the top-oil input
    ageing_rate: np.ndarray  # V per step
    loss_of_life_hours: np.ndarray  # per window (last axis summed), hours of life used at V = 1 per hour
    hours_over_top_oil_limit: np.ndarray
    hours_over_hot_spot_limit: np.ndarray


def hot_spot(top_oil_c: np.ndarray, k: np.ndarray) -> np.ndarray:
    return top_oil_c + HOT_SPOT_GRADIENT_K * np.abs(k) ** WINDING_EXPONENT


def ageing_rate(hot_spot_c: np.ndarray) -> np.ndarray:
    return 2.0 ** ((hot_spot_c - 98.0) / 6.0)


def outlook(top_oil_c: np.ndarray, k: np.ndarray, step_hours: float = 1.0) -> Outlook:
    """Hourly top-oil temperatures and per-unit loads (…, H) -> the overload and ageing outlook."""
    theta_h = hot_spot(top_oil_c, k)
    v = ageing_rate(theta_h)
    return Outlook(theta_h, v, v.sum(axis=-1) * step_hours,
                   (top_oil_c > TOP_OIL_LIMIT_C).sum(axis=-1) * step_hours,
                   (theta_h > HOT_SPOT_LIMIT_C).sum(axis=-1) * step_hours)
