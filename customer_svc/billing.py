"""Bills from interval data: each tariff in tariffs.yaml applied to a customer's real hourly use.

Tariff optimisation compares these bills, so the arithmetic is kept small and exact
(tests check it by hand). Bills are normalised to an average month (30.44 days).
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

TARIFF_FILE = Path(__file__).parent / "tariffs.yaml"
DAYS_PER_MONTH = 365.25 / 12


@lru_cache(maxsize=4)
def load_tariffs(path: Path = TARIFF_FILE) -> dict:
    return yaml.safe_load(Path(path).read_text())


def _hours(window) -> np.ndarray:
    mask = np.zeros(24, dtype=bool)
    windows = window if isinstance(window[0], list) else [window]
    for start, end in windows:
        mask[start:end] = True
    return mask


@dataclass(frozen=True)
class Usage:
    """A customer's use over whole days: kwh[d, h] on the local clock (NaN = unknown)."""

    kwh: np.ndarray  # (days, 24)
    weekend: np.ndarray  # (days,) bool

    @property
    def days(self) -> int:
        return len(self.kwh)


def monthly_bill(usage: Usage, tariff: str, tariffs: dict | None = None) -> float:
    """AUD per average month of `usage` under `tariff`."""
    spec = (tariffs or load_tariffs())["tariffs"][tariff]
    kwh = np.nan_to_num(usage.kwh)
    scale = DAYS_PER_MONTH / usage.days
    supply = spec["daily_supply_aud"] * DAYS_PER_MONTH
    if tariff == "flat":
        return supply + kwh.sum() * scale * spec["energy_aud_per_kwh"]
    if tariff == "time_of_use":
        weekday = ~usage.weekend[:, None]
        peak = _hours(spec["peak"]["hours"])[None, :] & weekday
        shoulder = _hours(spec["shoulder"]["hours"])[None, :] & weekday & ~peak
        off = ~(peak | shoulder)
        energy = (kwh[peak].sum() * spec["peak"]["aud_per_kwh"] + kwh[shoulder].sum() * spec["shoulder"]["aud_per_kwh"]
                  + kwh[off].sum() * spec["off_peak_aud_per_kwh"])
        return supply + energy * scale
    if tariff == "demand":
        window = _hours(spec["demand_window_hours"])
        weekday = kwh[~usage.weekend]
        # An hour's kWh is its average kW; the month's charge is on the highest one.
        max_kw = weekday[:, window].max() if len(weekday) else 0.0
        return supply + kwh.sum() * scale * spec["energy_aud_per_kwh"] + max_kw * spec["demand_aud_per_kw_month"]
    raise KeyError(f"unknown tariff {tariff!r}")


def all_bills(usage: Usage, tariffs: dict | None = None) -> dict[str, float]:
    tariffs = tariffs or load_tariffs()
    return {name: round(float(monthly_bill(usage, name, tariffs)), 2) for name in tariffs["tariffs"]}
