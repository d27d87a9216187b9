"""Rooftop PV rendered onto customers' own import profiles: what a household would read with panels.

Panels zero a home's import through the day and so hide its daylight habits; segmentation learns
how each cluster looks behind panels by giving its members without PV a system of their own
(`pv_assignment.py`). Only the PV is modelled here, with pvlib's solar position and Haurwitz
clear-sky irradiance at each region's capital on the local clock (DST included); the households
are real customers. A system is sized at random over the usual Australian rooftop range, and each
region gets a random share of clear sky per day (cloud), since no irradiance is recorded.
"""

import warnings
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pandas as pd
import pvlib

from customer_svc.profiles import REGION_TIMEZONES, DailyProfiles

# The capital's coordinates stand for the region (degrees north, degrees east, as pvlib takes them).
REGION_SITES = {"NSW": (-33.87, 151.21), "VIC": (-37.81, 144.96), "QLD": (-27.47, 153.03),
                "SA": (-34.93, 138.60), "TAS": (-42.88, 147.33), "": (-27.47, 153.03)}
SYSTEM_KW = (3.0, 10.0)  # rooftop systems on Australian homes
PERFORMANCE_RATIO = 0.8  # inverter, wiring, heat and soiling losses
CLEAR_SKY_SHARE = (0.3, 1.0)  # of clear-sky output reaching the panels on a day
_STC_IRRADIANCE = 1000.0  # W/m2 at which a panel makes its rated kW


@lru_cache(maxsize=64)
def clear_sky_output(region: str, first_day: str, days: int) -> np.ndarray:
    """(days, 24) kW per rated kW of a clear-sky panel in the middle of each local hour."""
    tz = REGION_TIMEZONES.get(region, REGION_TIMEZONES[""])
    lat, lon = REGION_SITES.get(region, REGION_SITES[""])
    local = pd.date_range(first_day, periods=days * 24, freq="h") + pd.Timedelta(minutes=30)
    # A DST fall-back hour is ambiguous on the local clock and a spring-forward one does not exist:
    # take the first / shift forward, the sun barely moves in 30 minutes at those night hours.
    times = local.tz_localize(tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
    with warnings.catch_warnings():  # pvlib 0.16 still calls DatetimeIndex.dayofyear, deprecated in pandas 3
        warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
        sky = pvlib.location.Location(lat, lon, tz).get_clearsky(times, model="haurwitz")
    return (sky["ghi"].to_numpy() / _STC_IRRADIANCE).reshape(days, 24)


def with_rooftop_pv(p: DailyProfiles, customers: np.ndarray, seed: int = 0) -> DailyProfiles:
    """The given customers of p (by index) as their import meters would read with a PV system each."""
    rng = np.random.default_rng(seed)
    days = p.kwh.shape[1]
    kwh = p.kwh[customers].copy()
    system_kw = rng.uniform(*SYSTEM_KW, len(customers)) * PERFORMANCE_RATIO
    region = p.region[customers]
    for r in np.unique(region):
        sky = clear_sky_output(p.region_names[r] if p.region_names else "", p.first_day, days)
        sky = sky * rng.uniform(*CLEAR_SKY_SHARE, days)[:, None]
        members = np.flatnonzero(region == r)
        generated = system_kw[members, None, None] * sky[None]  # kWh in the hour
        kwh[members] = np.maximum(kwh[members] - generated, 0.0)  # export does not show on import
    weekend = p.weekend if p.weekend.ndim == 1 else p.weekend[customers]
    return replace(p, kwh=kwh, max_kw=p.max_kw[customers], region=region, weekend=weekend)
