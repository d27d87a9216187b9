"""Segmentation features from daily profiles (plan 8.1 plus what separates the 12 segments).

Shapes are normalised by the customer's own mean so a large and a small household
with the same habits look alike; the level is a separate (log) feature. All work
is whole-array numpy over (customers, days, 24), so 1.2 M customers take seconds.
"""

import numpy as np

from customer_svc.profiles import DailyProfiles

HOURS = [f"hour_{h:02d}" for h in range(24)]
FEATURE_NAMES = HOURS + [
    "log_dark_daily_kwh", "hourly_cv", "peak_to_mean", "log_max_kw",  # the plan's mean/std/max, max demand
    "weekend_ratio", "weekend_midday_share", "midday_zero_share", "battery_signature",
    "evening_share", "night_share", "late_evening_burst",
]
EPS = 1e-3
DAYLIGHT = np.arange(8, 17)
DARK_HOURS = np.r_[0:8, 17:24]


def _nanmean(x: np.ndarray, axis) -> np.ndarray:
    n = np.sum(~np.isnan(x), axis=axis)
    return np.nansum(x, axis=axis) / np.maximum(n, 1)


def build_features(p: DailyProfiles) -> np.ndarray:
    """(customers, len(FEATURE_NAMES)) float32."""
    kwh = p.kwh
    weekend = np.broadcast_to(p.weekend, kwh.shape[:2])
    wk = np.where(weekend[..., None], np.nan, kwh)
    we = np.where(weekend[..., None], kwh, np.nan)
    weekday_hourly = _nanmean(wk, axis=1)  # (c, 24)
    weekend_hourly = _nanmean(we, axis=1)
    hourly = _nanmean(kwh, axis=1)
    mean_h = np.maximum(hourly.mean(axis=1), EPS)
    midday = kwh[:, :, 10:15]
    # Rooftop PV: the import register reads ~0 through the middle of the day.
    zero_share = _nanmean(np.where(np.isnan(midday), np.nan, midday < 0.02 * mean_h[:, None, None]), axis=(1, 2))
    # Shape and level from the hours PV cannot touch, so a household with panels looks like
    # its neighbours without; its daylight hours take the typical (median) daylight shape.
    dark = weekday_hourly[:, DARK_HOURS].mean(axis=1)
    shape = weekday_hourly / np.maximum(dark, EPS)[:, None]
    pv = zero_share > 0.3
    if pv.any() and (~pv).any():
        shape[np.ix_(pv, DAYLIGHT)] = np.median(shape[np.ix_(~pv, DAYLIGHT)], axis=0)
    level = np.log(np.maximum(dark, EPS) * 24)
    evening = hourly[:, 18:22].sum(axis=1) / np.maximum(hourly[:, DARK_HOURS].sum(axis=1), EPS)
    # A home battery soaks up the evening: PV zeros at noon *and* a quiet evening.
    battery = zero_share * np.clip(1.0 - evening / 0.35, 0.0, 1.0)

    std_h = np.sqrt(np.maximum(_nanmean((kwh - mean_h[:, None, None]) ** 2, axis=(1, 2)), 0))
    max_h = np.nanmax(np.where(np.isnan(kwh), -np.inf, kwh), axis=(1, 2))

    weekend_ratio = weekend_hourly.mean(axis=1) / np.maximum(weekday_hourly.mean(axis=1), EPS)
    weekend_midday = weekend_hourly[:, 10:16].sum(axis=1) / np.maximum(weekend_hourly.sum(axis=1), EPS)
    night = (hourly[:, 22:].sum(axis=1) + hourly[:, :2].sum(axis=1)) / np.maximum(hourly.sum(axis=1), EPS)
    # EV charging: a few evenings with a big block of energy after 20:00 -> high upper quantile.
    late = np.nansum(kwh[:, :, 20:24], axis=2) / (4 * mean_h[:, None])
    burst = np.nanquantile(late, 0.8, axis=1) - np.nanquantile(late, 0.2, axis=1)
    return np.column_stack([
        shape, level, np.log1p(std_h / mean_h), np.log1p(max_h / mean_h),
        np.log(np.maximum(p.max_kw, EPS)), np.log(np.clip(weekend_ratio, 0.1, 10)), weekend_midday,
        zero_share, battery, evening, night, burst,
    ]).astype(np.float32)

