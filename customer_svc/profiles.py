"""Hourly usage -> per-customer daily load profiles on the customer's local clock.

The consumer stores usage per (meter, UTC hour); segments are defined by local
hours ("evening peak 6pm-10pm"), so profiles are re-based to each region's
clock (DST included) before any feature is computed.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meters.regions import NEM_TIMEZONE, TIMEZONES

REGION_TIMEZONES = {**TIMEZONES, "": NEM_TIMEZONE}  # unknown region: AEST without DST (NEM time)


@dataclass(frozen=True)
class DailyProfiles:
    """kwh[c, d, h]: customer c's energy in local hour h of local day d (NaN = no data)."""

    kwh: np.ndarray  # float32 (customers, days, 24)
    max_kw: np.ndarray  # float32 (customers,): highest average demand of an interval
    weekend: np.ndarray  # bool (customers, days) or (days,): Saturday/Sunday on the local clock
    region: np.ndarray  # int (customers,): index into `regions`, groups customers sharing weather
    first_day: str = ""  # ISO date of day 0 (for people)
    # degC per (region index, day, local hour), NaN = unknown; None: no weather given.
    temp_c: np.ndarray | None = None
    region_names: tuple[str, ...] = ()  # region index -> NEM region (empty: unknown)

    def __len__(self) -> int:
        return len(self.kwh)


def local_day_hour(hour_start_unix_s: np.ndarray, region: str, start_unix_s: int,
                   days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local day index (day 0 = the local date of start_unix_s) and local hour of each UTC hour
    start in `region`, and the weekend flag of each of the `days` local days."""
    tz = REGION_TIMEZONES.get(region, REGION_TIMEZONES[""])
    # Local clock of every distinct UTC hour: a few thousand conversions, not one per row.
    hours, inverse = np.unique(hour_start_unix_s, return_inverse=True)
    naive = pd.to_datetime(hours, unit="s", utc=True).tz_convert(tz).tz_localize(None)
    day0 = pd.Timestamp(start_unix_s, unit="s", tz="UTC").tz_convert(tz).normalize().tz_localize(None)
    d = (naive.normalize() - day0).days.to_numpy()[inverse.ravel()]
    h = naive.hour.to_numpy()[inverse.ravel()]
    dates = day0 + pd.to_timedelta(np.arange(days), unit="D")
    return d, h, np.asarray(dates.day_of_week >= 5)


def build_profiles(customer_index: np.ndarray, hour_start_unix_s: np.ndarray, kwh: np.ndarray,
                   max_kw: np.ndarray, customer_regions: list[str], start_unix_s: int, days: int) -> DailyProfiles:
    """Scatter hourly rows (customer index, UTC hour start, kWh, peak kW) into local-day profiles.

    customer_regions[c] is the NEM region of customer c; day 0 is the local date of
    start_unix_s in each region.
    """
    n = len(customer_regions)
    names = sorted(set(customer_regions))
    region_of = np.array([names.index(r) for r in customer_regions], dtype=np.int64)
    cell = np.full(len(customer_index), -1, dtype=np.int64)
    weekend = np.zeros((n, days), dtype=bool)
    row_region = region_of[customer_index]
    for r, name in enumerate(names):
        rows = np.flatnonzero(row_region == r)
        d, h, weekend_r = local_day_hour(hour_start_unix_s[rows], name, start_unix_s, days)
        ok = (d >= 0) & (d < days)
        cell[rows[ok]] = (customer_index[rows[ok]] * days + d[ok]) * 24 + h[ok]
        weekend[region_of == r] = weekend_r[None, :]
    keep = cell >= 0
    flat = np.zeros(n * days * 24, dtype=np.float32)
    # add, not assign: a DST fall-back hour occurs twice on the local clock.
    np.add.at(flat, cell[keep], kwh[keep].astype(np.float32))
    seen = np.zeros(n * days * 24, dtype=bool)
    seen[cell[keep]] = True
    flat[~seen] = np.nan
    peak = np.zeros(n, dtype=np.float32)
    np.maximum.at(peak, customer_index, max_kw.astype(np.float32))
    first = pd.Timestamp(start_unix_s, unit="s", tz="UTC").tz_convert(REGION_TIMEZONES["NSW"]).date().isoformat()
    return DailyProfiles(flat.reshape(n, days, 24), peak, weekend, region_of, first, region_names=tuple(names))
