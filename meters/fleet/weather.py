"""The fleet's regional weather as a weather feed would deliver it: hourly means per region."""

import numpy as np

from meters.fleet.calendar import REGIONS, RegionClock, daily_weather, interval_end_times
from meters.fleet.config import FleetConfig


def hourly_temperature(cfg: FleetConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(region, UTC hour start, mean degC of the hour) rows for every region and hour of the fleet."""
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
