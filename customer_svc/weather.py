"""Regional hourly temperature on the customers' local clock (for the temperature-sensitivity feature).

Weather enters the service as (region, UTC hour start, degC) rows through RecordRegionalWeather;
in training and evaluation the synthetic fleet's own regional weather (meters.fleet.calendar)
stands in for a weather service. It is an input like a weather feed, not a label.
"""

import numpy as np

from customer_svc.profiles import local_day_hour
from meters.fleet import FleetConfig
from meters.fleet.calendar import REGIONS, RegionClock, daily_weather, interval_end_times


def local_grid(names: list[str], regions: np.ndarray, hour_start_unix_s: np.ndarray, temp_c: np.ndarray,
               start_unix_s: int, days: int) -> np.ndarray:
    """(len(names), days, 24) mean degC per region (in `names` order) and local hour; NaN = no data."""
    total = np.zeros((len(names), days * 24))
    count = np.zeros((len(names), days * 24))
    for r, name in enumerate(names):
        rows = np.flatnonzero(regions == name)
        if not len(rows):
            continue
        d, h, _ = local_day_hour(hour_start_unix_s[rows], name, start_unix_s, days)
        ok = (d >= 0) & (d < days)
        cell = d[ok] * 24 + h[ok]
        np.add.at(total[r], cell, temp_c[rows[ok]])  # a DST fall-back hour occurs twice: averaged
        np.add.at(count[r], cell, 1.0)
    with np.errstate(invalid="ignore"):
        return (total / count).reshape(len(names), days, 24).astype(np.float32)


def fleet_temperature(cfg: FleetConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fleet's regional temperature as (region, UTC hour start, mean degC of the hour) rows."""
    weather = daily_weather(cfg)
    regions, hours, temps = [], [], []
    for day in range(cfg.days):
        clock = RegionClock(cfg, day, weather)
        hour = (interval_end_times(cfg, day) - 1) // 3600 * 3600
        uniq, inverse = np.unique(hour, return_inverse=True)
        for r, name in enumerate(REGIONS):
            regions.append(np.full(len(uniq), name))
            hours.append(uniq)
            temps.append(np.bincount(inverse, weights=clock.temp_c[r]) / np.bincount(inverse))
    return np.concatenate(regions), np.concatenate(hours), np.concatenate(temps)
