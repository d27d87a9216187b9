"""The plan's 12 customer segments (implementation plan, section 8.1) as load archetypes.

Each archetype is a daily kWh level and a 24-hour shape made of a base level plus
Gaussian bumps at its peak hours (local clock), with its own weekend shape and
temperature sensitivity. Shapes are normalised so a mild weekday averages 1.0,
which keeps `daily_kwh` the meaning of the number.
"""

from dataclasses import dataclass

import numpy as np

Bump = tuple[float, float, float]  # (centre hour, width hours, height relative to base)


@dataclass(frozen=True)
class Segment:
    key: str
    share: float
    daily_kwh: float
    base: float
    weekday_bumps: tuple[Bump, ...]
    weekend_bumps: tuple[Bump, ...]
    weekend_factor: float  # daily level on weekends and public holidays, relative to weekdays
    cooling_per_deg: float  # load increase per degC above 24 (air conditioning)
    heating_per_deg: float  # load increase per degC below 18
    phases: int = 1
    power_factor: float = 0.95
    solar_share: float | None = None  # None: FleetConfig.solar_share
    ev_share: float | None = None  # None: FleetConfig.ev_share
    battery: bool = False


_RES_EVENING = ((7.5, 1.2, 0.6), (19.0, 2.2, 1.5))
_RES_WEEKEND = ((9.5, 2.0, 0.8), (19.0, 2.2, 1.3))

SEGMENTS: tuple[Segment, ...] = (
    Segment("early_morning_industrial", 0.03, 260.0, 0.25, ((6.0, 1.6, 3.5),), ((6.0, 1.6, 1.5),), 0.55, 0.010, 0.004, 3, 0.88, 0.05, 0.0),
    Segment("business_hours_commercial", 0.08, 70.0, 0.25, ((13.0, 3.2, 2.6),), ((12.0, 3.0, 0.4),), 0.35, 0.030, 0.012, 3, 0.90, 0.20, 0.0),
    Segment("evening_residential_peak", 0.22, 8.0, 0.50, _RES_EVENING, _RES_WEEKEND, 1.08, 0.030, 0.080),
    Segment("solar_battery_households", 0.07, 10.0, 0.50, ((7.5, 1.2, 0.7), (18.5, 2.2, 1.8)), _RES_WEEKEND, 1.06, 0.030, 0.075, solar_share=1.0, battery=True),
    Segment("ev_charging_households", 0.09, 7.0, 0.50, _RES_EVENING, _RES_WEEKEND, 1.05, 0.030, 0.080, ev_share=1.0),
    Segment("efficiency_optimizers", 0.05, 5.0, 0.70, ((8.0, 2.5, 0.25), (18.5, 2.5, 0.35)), ((10.0, 3.0, 0.3), (18.5, 2.5, 0.3)), 1.02, 0.008, 0.006),
    Segment("high_consumption_all_day", 0.06, 20.0, 0.60, ((11.0, 5.0, 0.9), (19.0, 2.5, 0.9)), ((12.0, 5.0, 1.0), (19.0, 2.5, 0.9)), 1.05, 0.035, 0.075),
    Segment("seasonal_variation_heavy", 0.12, 8.0, 0.50, _RES_EVENING, _RES_WEEKEND, 1.08, 0.090, 0.150),
    Segment("weekend_shift_users", 0.08, 7.5, 0.45, ((7.0, 1.0, 0.7), (20.0, 1.5, 1.0)), ((11.0, 3.5, 2.5), (18.5, 2.0, 1.5)), 1.55, 0.030, 0.080),
    Segment("night_owl_households", 0.06, 8.0, 0.40, ((23.5, 1.8, 2.6), (12.0, 2.0, 0.4)), ((0.5, 2.0, 2.6), (13.0, 2.0, 0.5)), 1.05, 0.030, 0.080),
    Segment("retired_home_all_day", 0.09, 9.0, 0.45, ((8.5, 1.5, 1.0), (12.5, 3.5, 1.0), (18.0, 2.0, 1.3)), ((8.5, 1.5, 1.0), (12.5, 3.5, 1.0), (18.0, 2.0, 1.3)), 1.00, 0.035, 0.085, solar_share=0.40),
    Segment("low_use_minimal", 0.05, 3.0, 0.55, ((7.5, 1.0, 0.5), (19.0, 1.5, 0.8)), ((9.0, 1.5, 0.5), (19.0, 1.5, 0.7)), 1.0, 0.005, 0.005, solar_share=0.10),
)

SEGMENT_KEYS: tuple[str, ...] = tuple(s.key for s in SEGMENTS)
SEGMENT_SHARES = np.array([s.share for s in SEGMENTS])
assert abs(SEGMENT_SHARES.sum() - 1.0) < 1e-9, "segment shares must sum to 1"


def _shape(hours: np.ndarray, base: float, bumps: tuple[Bump, ...]) -> np.ndarray:
    out = np.full(hours.shape, base, dtype=np.float64)
    for centre, width, height in bumps:
        d = np.abs(hours - centre)
        d = np.minimum(d, 24.0 - d)  # circular: a bump at 23:30 spills past midnight
        out += height * np.exp(-0.5 * (d / width) ** 2)
    return out


def _weekday_mean(seg: Segment) -> float:
    grid = np.arange(0.0, 24.0, 0.25)
    return float(_shape(grid, seg.base, seg.weekday_bumps).mean())


_NORMS = np.array([_weekday_mean(s) for s in SEGMENTS])


def shape_factors(local_hours: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """Per-segment load shape, mean 1.0 over a weekday: array (segments, *local_hours.shape).

    local_hours is the interval midpoint on the local clock; weekend is True on
    Saturdays, Sundays and public holidays.
    """
    out = np.empty((len(SEGMENTS),) + local_hours.shape)
    for i, seg in enumerate(SEGMENTS):
        wd = _shape(local_hours, seg.base, seg.weekday_bumps) / _NORMS[i]
        we_raw = _shape(local_hours, seg.base, seg.weekend_bumps)
        we_norm = _shape(np.arange(0.0, 24.0, 0.25), seg.base, seg.weekend_bumps).mean()
        we = we_raw / we_norm * seg.weekend_factor
        out[i] = np.where(weekend, we, wd)
    return out


def temperature_factors(temp_c: np.ndarray) -> np.ndarray:
    """Per-segment multiplier from heating and cooling: array (segments, *temp_c.shape)."""
    cool = np.maximum(temp_c - 24.0, 0.0)
    heat = np.maximum(18.0 - temp_c, 0.0)
    return np.stack([1.0 + s.cooling_per_deg * cool + s.heating_per_deg * heat for s in SEGMENTS])
