"""Bills from a month's usage summary: each tariff in tariffs.yaml applied to every customer at once.

A UsageSummary holds energy per (weekday/weekend, local hour) and the highest weekday energy per
local hour, which is all a flat, time-of-use or demand bill reads, so billing a calendar month from
its summary is exact. Tariff optimisation compares these bills, so the arithmetic is kept small
(tests check it by hand). Bills are normalised to an average month (30.44 days) from the days the
summary covers, counted as hours with data / 24: a customer with gaps is billed at its measured rate.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from customer_svc.usage_summary import UsageSummary

TARIFF_FILE = Path(__file__).parent / "tariffs.yaml"
DAYS_PER_MONTH = 365.25 / 12


@lru_cache(maxsize=4)
def load_tariffs(path: Path = TARIFF_FILE) -> dict:
    return yaml.safe_load(Path(path).read_text())


def hours_of(window) -> np.ndarray:
    """(24,) bool: the local hours of a window [start, end) or a list of them."""
    mask = np.zeros(24, dtype=bool)
    windows = window if isinstance(window[0], list) else [window]
    for start, end in windows:
        mask[start:end] = True
    return mask


def energy_prices(spec: dict) -> np.ndarray:
    """(2, 24) AUD per kWh by weekday/weekend and local hour under one tariff."""
    if "energy_aud_per_kwh" in spec:
        return np.full((2, 24), float(spec["energy_aud_per_kwh"]))
    prices = np.full((2, 24), float(spec["off_peak_aud_per_kwh"]))  # weekends are off-peak all day
    prices[0, hours_of(spec["shoulder"]["hours"])] = spec["shoulder"]["aud_per_kwh"]
    prices[0, hours_of(spec["peak"]["hours"])] = spec["peak"]["aud_per_kwh"]  # peak wins where both
    return prices


def covered_days(u: UsageSummary) -> np.ndarray:
    """(c,) days of data in the summary: hours with data / 24."""
    return u.hours.sum(axis=(1, 2)) / 24


def monthly_bills(u: UsageSummary, tariffs: dict | None = None) -> dict[str, np.ndarray]:
    """Tariff name -> (c,) AUD per average month of each customer's summarised month, to the cent
    (NaN for a customer without data)."""
    tariffs = tariffs or load_tariffs()
    days = covered_days(u)
    scale = np.divide(DAYS_PER_MONTH, days, out=np.full(len(u), np.nan), where=days > 0)
    bills = {}
    for name, spec in tariffs["tariffs"].items():
        bill = spec["daily_supply_aud"] * DAYS_PER_MONTH + np.einsum("cth,th->c", u.kwh, energy_prices(spec)) * scale
        if "demand_window_hours" in spec:
            # An hour's kWh is its average kW; the month's charge is on the highest weekday one in the window.
            peak_kw = u.weekday_max_kwh[:, hours_of(spec["demand_window_hours"])].max(axis=1)
            bill = bill + peak_kw * spec["demand_aud_per_kw_month"]
        bills[name] = np.round(bill, 2)
    return bills
