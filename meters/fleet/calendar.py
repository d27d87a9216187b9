"""Clock, calendar and weather per NEM region: local hours, weekends, public holidays, temperature, sun.

Everything here is per (region, interval), never per reading: a day of 15-minute
intervals for five regions is 480 values, so plain pandas/numpy is cheap.
"""

from datetime import date, timedelta

import numpy as np
import pandas as pd

from meters.fleet.config import FleetConfig
from meters.regions import REGIONS, TIMEZONES  # noqa: F401 - REGIONS is part of this module's API

# (annual mean daily temperature degC, seasonal half-range, diurnal half-range, latitude deg south,
# longitude deg east)
CLIMATE = {
    "NSW": (18.5, 4.5, 4.0, 33.9, 151.2),
    "VIC": (15.5, 4.5, 5.0, 37.8, 145.0),
    "QLD": (21.0, 3.5, 4.5, 27.5, 153.0),
    "SA": (17.5, 5.5, 5.5, 34.9, 138.6),
    "TAS": (12.5, 3.5, 4.0, 42.9, 147.3),
}


def easter_sunday(year: int) -> date:
    """Gregorian Easter (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    nl = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * nl) // 451
    month = (h + nl - 7 * m + 114) // 31
    day = (h + nl - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def _observed(d: date) -> date:
    """Weekend holidays move to the next Monday (the common Australian rule)."""
    return d + timedelta(days=(7 - d.weekday()) % 7) if d.weekday() >= 5 else d


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def national_holidays(year: int) -> set[date]:
    """Public holidays common to the NEM states (state-only days are left out)."""
    easter = easter_sunday(year)
    christmas = date(year, 12, 25)
    boxing = date(year, 12, 26)
    days = {
        _observed(date(year, 1, 1)),
        _observed(date(year, 1, 26)),
        easter - timedelta(days=2),
        easter + timedelta(days=1),
        date(year, 4, 25),
        _nth_weekday(year, 6, 0, 2),  # King's Birthday (QLD moves it to October; ignored)
        christmas,
        boxing,
    }
    if christmas.weekday() >= 5:
        days |= {date(year, 12, 27), date(year, 12, 28)}
    elif boxing.weekday() >= 5:
        days.add(date(year, 12, 28))
    return days


def interval_end_times(cfg: FleetConfig, day: int) -> np.ndarray:
    """UTC unix seconds of the interval ends of one NEM day, int64."""
    first = cfg.start_unix_s + day * 86_400 + cfg.interval_seconds
    return first + cfg.interval_seconds * np.arange(cfg.intervals_per_day, dtype=np.int64)


class RegionClock:
    """Local hour, weekend/holiday flag, temperature and clear-sky sun per (region, interval) of one day."""

    def __init__(self, cfg: FleetConfig, day: int, weather: np.ndarray):
        ends = interval_end_times(cfg, day)
        mids = pd.to_datetime(ends - cfg.interval_seconds // 2, unit="s", utc=True)
        n = len(ends)
        self.local_hours = np.empty((len(REGIONS), n))
        self.weekend = np.empty((len(REGIONS), n), dtype=bool)
        self.temp_c = np.empty((len(REGIONS), n))
        self.sun = np.empty((len(REGIONS), n))
        for r, region in enumerate(REGIONS):
            local = mids.tz_convert(TIMEZONES[region])
            hours = (local.hour + local.minute / 60.0 + local.second / 3600.0).to_numpy(dtype=np.float64)
            dates = local.date
            years = {d.year for d in dates}
            holidays = set().union(*(national_holidays(y) for y in years))
            self.local_hours[r] = hours
            self.weekend[r] = (local.day_of_week.to_numpy() >= 5) | np.array([d in holidays for d in dates])
            doy = local.day_of_year.to_numpy(dtype=np.float64)
            mean_t, seasonal, diurnal, lat, lon = CLIMATE[region]
            season = np.cos(2 * np.pi * (doy - 20.0) / 365.25)  # +1 late January, -1 late July
            self.temp_c[r] = (
                mean_t + seasonal * season + weather[r, day, 0]
                + diurnal * np.cos(2 * np.pi * (hours - 15.0) / 24.0)
            )
            utc_hours = (mids.hour + mids.minute / 60.0 + mids.second / 3600.0).to_numpy(dtype=np.float64)
            self.sun[r] = _clear_sky(utc_hours, doy, lat, lon) * weather[r, day, 1]


def _clear_sky(utc_hours: np.ndarray, doy: np.ndarray, lat_deg: float, lon_deg: float) -> np.ndarray:
    """Relative PV output (0..1) from the sun's elevation, southern hemisphere.

    The sun keeps solar time, not the clock: noon is where the longitude and the equation of time
    put it (11:50-12:40 standard time in the NEM, an hour later on daylight-saving clocks).
    """
    decl = np.radians(-23.44) * np.cos(2 * np.pi * (doy + 10.0) / 365.25)  # -23.4 deg at the December solstice
    lat = np.radians(-lat_deg)
    b = 2 * np.pi * (doy - 81.0) / 364.0
    equation_of_time_h = (9.87 * np.sin(2 * b) - 7.53 * np.cos(b) - 1.5 * np.sin(b)) / 60.0
    hour_angle = np.radians(15.0 * (utc_hours + lon_deg / 15.0 + equation_of_time_h - 12.0))
    sin_elev = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    return np.clip(sin_elev, 0.0, None) ** 1.3


def daily_weather(cfg: FleetConfig) -> np.ndarray:
    """(regions, days, 2): temperature anomaly degC (AR(1) across days) and cloud factor 0.3..1."""
    rng = np.random.default_rng([cfg.seed, 101])
    out = np.empty((len(REGIONS), cfg.days, 2))
    anomaly = rng.normal(0.0, 2.5, len(REGIONS))
    for d in range(cfg.days):  # loop over days, not readings
        anomaly = 0.7 * anomaly + rng.normal(0.0, 1.8, len(REGIONS))
        out[:, d, 0] = anomaly
        out[:, d, 1] = np.clip(1.0 - rng.beta(1.2, 3.5, len(REGIONS)), 0.3, 1.0)
    return out
