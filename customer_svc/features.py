"""Segmentation features from daily profiles (plan 8.1 plus what separates the 12 segments).

Shapes are normalised by the customer's own mean so a large and a small household
with the same habits look alike; the level is a separate (log) feature. All work
is whole-array numpy over (customers, days, 24), so 1.2 M customers take seconds.
"""

import numpy as np

from customer_svc.profiles import DailyProfiles
from meters.fleet.segments import SEGMENTS

HOURS = [f"hour_{h:02d}" for h in range(24)]
FEATURE_NAMES = HOURS + [
    "log_dark_daily_kwh", "hourly_cv", "peak_to_mean", "log_max_kw",  # the plan's mean/std/max, max demand
    "weekend_ratio", "weekend_midday_share", "midday_zero_share", "battery_signature",
    "evening_share", "night_share", "late_evening_burst", "temperature_slope",
]
EPS = 1e-3
# A customer whose import reads ~0 on this share of midday intervals has rooftop PV.
PV_ZERO_SHARE = 0.3
DAYLIGHT = np.arange(8, 17)
DARK_RANGES = ((0, 8), (17, 24))
DARK_HOURS = np.r_[tuple(slice(a, b) for a, b in DARK_RANGES)]
# Degree-hours weighted like the most weather-sensitive segment's heating/cooling (a matched filter).
_SEASONAL = next(s for s in SEGMENTS if s.key == "seasonal_variation_heavy")


def _quantiles(x: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """Row quantiles (linear interpolation, as np.quantile) of a NaN-free (rows, n) array."""
    s = np.sort(x, axis=1)
    out = []
    for q in qs:
        pos = q * (s.shape[1] - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, s.shape[1] - 1)
        out.append(s[:, lo] + (s[:, hi] - s[:, lo]) * (pos - lo))
    return out


def _day_sums(values: np.ndarray, day_weight: np.ndarray) -> np.ndarray:
    """(c, d, 24) x (c, d) -> (c, 24): per-hour sums over the days selected by day_weight (0/1)."""
    return np.matmul(day_weight[:, None, :], values)[:, 0, :]


def build_features(p: DailyProfiles) -> np.ndarray:
    """(customers, len(FEATURE_NAMES)) float32.

    Missing hours (NaN) are left out of every mean. Everything is computed from one
    zero-filled copy and a validity mask (plain sums and batched matmuls), which is
    several times faster than NaN-aware reductions over (customers, days, 24).
    """
    kwh = p.kwh.astype(np.float32, copy=False)
    missing = np.isnan(kwh)
    k0 = np.where(missing, np.float32(0), kwh)
    valid = (~missing).astype(np.float32)
    we_w = np.broadcast_to(p.weekend, kwh.shape[:2]).astype(np.float32)
    wk_w = 1.0 - we_w
    s_wk, n_wk = _day_sums(k0, wk_w), _day_sums(valid, wk_w)
    s_we, n_we = _day_sums(k0, we_w), _day_sums(valid, we_w)
    weekday_hourly = s_wk / np.maximum(n_wk, 1)  # (c, 24)
    weekend_hourly = s_we / np.maximum(n_we, 1)
    hourly = (s_wk + s_we) / np.maximum(n_wk + n_we, 1)
    mean_h = np.maximum(hourly.mean(axis=1), EPS)
    # Rooftop PV: the import register reads ~0 through the middle of the day.
    low = (k0[:, :, 10:15] < (0.02 * mean_h)[:, None, None]) & ~missing[:, :, 10:15]
    zero_share = low.sum(axis=(1, 2)) / np.maximum(valid[:, :, 10:15].sum(axis=(1, 2)), 1)
    # Shape and level from the hours PV cannot touch, so a household with panels looks like
    # its neighbours without; its daylight hours take the typical (median) daylight shape.
    dark = weekday_hourly[:, DARK_HOURS].mean(axis=1)
    shape = weekday_hourly / np.maximum(dark, EPS)[:, None]
    pv = zero_share > PV_ZERO_SHARE
    if pv.any() and (~pv).any():
        shape[np.ix_(pv, DAYLIGHT)] = np.median(shape[np.ix_(~pv, DAYLIGHT)], axis=0)
    level = np.log(np.maximum(dark, EPS) * 24)
    evening = hourly[:, 18:22].sum(axis=1) / np.maximum(hourly[:, DARK_HOURS].sum(axis=1), EPS)
    # A home battery soaks up the evening: PV zeros at noon *and* quiet evening and late hours
    # (a night owl with panels imports late, so it does not look like a battery).
    after_dark = evening + (hourly[:, 22:].sum(axis=1) + hourly[:, :2].sum(axis=1)) / np.maximum(
        hourly[:, DARK_HOURS].sum(axis=1), EPS)
    battery = zero_share * np.clip(1.0 - after_dark / 0.55, 0.0, 1.0)

    # Spread, peak, night and late-evening figures relative to the dark hours' mean, which PV
    # cannot lower: a household's panels must not make it look peakier or more nocturnal.
    dark_mean = np.maximum(hourly[:, DARK_HOURS].mean(axis=1), EPS)
    dark_views = [(k0[:, :, a:b], valid[:, :, a:b]) for a, b in DARK_RANGES]  # views, no copies
    n = np.maximum(sum(v.sum(axis=(1, 2)) for _, v in dark_views), 1)
    s1 = sum(k.sum(axis=(1, 2)) for k, _ in dark_views) / n
    s2 = sum(np.einsum("cdh,cdh->c", k, k) for k, _ in dark_views) / n
    std_h = np.sqrt(np.maximum(s2 - 2 * dark_mean * s1 + dark_mean**2, 0))
    max_h = k0.max(axis=(1, 2))  # consumption is never negative: a missing hour (0) never wins

    weekend_ratio = (weekend_hourly[:, DARK_HOURS].mean(axis=1)
                     / np.maximum(weekday_hourly[:, DARK_HOURS].mean(axis=1), EPS))
    weekend_midday = weekend_hourly[:, 10:16].sum(axis=1) / np.maximum(weekend_hourly.sum(axis=1), EPS)
    if pv.any() and (~pv).any():
        weekend_midday[pv] = np.median(weekend_midday[~pv])
    night = (hourly[:, 22:].sum(axis=1) + hourly[:, :2].sum(axis=1)) / np.maximum(
        hourly[:, DARK_HOURS].sum(axis=1), EPS)
    # EV charging: a few evenings with a big block of energy after 20:00 -> high upper quantile.
    late = k0[:, :, 20:24].sum(axis=2) / (4 * dark_mean[:, None])
    q20, q80 = _quantiles(late, (0.2, 0.8))
    burst = q80 - q20
    return np.column_stack([
        shape, level, np.log1p(std_h / dark_mean), np.log1p(max_h / dark_mean),
        np.log(np.maximum(p.max_kw, EPS)), np.log(np.clip(weekend_ratio, 0.1, 10)), weekend_midday,
        zero_share, battery, evening, night, burst, temperature_slope(p, k0),
    ]).astype(np.float32)


def temperature_slope(p: DailyProfiles, k0: np.ndarray) -> np.ndarray:
    """Least-squares b in kwh[d, h] ~ m[h] * (1 + b * x[d, h]), per customer.

    x: the region's degree-hours (heating below 18, cooling above 24 degC, weighted like the most
    weather-sensitive segment), centred per hour over the days; m: the customer's mean use at that
    hour (weekdays and weekends apart, floored at 0.6x the customer's mean so PV-zeroed hours do
    not explode). Each hour's relative deviation counts alike (the noise is multiplicative), so b
    is the relative change of use per weighted degree, free of the customer's shape and level.
    NaN (unknown: neutral in the model) where the region has no weather.
    """
    out = np.full(len(k0), np.nan, dtype=np.float32)
    if p.temp_c is None:
        return out
    weekend = np.broadcast_to(p.weekend, k0.shape[:2])
    regions = np.unique(p.region)
    for r in regions:
        members = np.flatnonzero(p.region == r)
        k = k0 if len(regions) == 1 else k0[members]  # one copy of the data over all regions
        t = p.temp_c[r].astype(np.float64)
        x = _SEASONAL.cooling_per_deg * np.maximum(t - 24.0, 0) + _SEASONAL.heating_per_deg * np.maximum(18.0 - t, 0)
        num, den = np.zeros(len(members)), 0.0
        for days in (~weekend[members[0]], weekend[members[0]]):
            known = ~np.isnan(x) & days[:, None]
            if not known.any():
                continue
            mean = np.where(known, x, 0.0).sum(axis=0) / np.maximum(known.sum(axis=0), 1)
            xs = np.where(known, x - mean, 0.0).astype(np.float32)  # 0 on the other day type
            w = days.astype(np.float32)
            m = np.matmul(w[None, None, :], k)[:, 0, :] / max(w.sum(), 1)
            m = np.maximum(m, np.maximum(0.6 * m.mean(axis=1, keepdims=True), EPS))
            num += (np.einsum("cdh,dh->ch", k, xs) / m).sum(axis=1)
            den += float((xs**2).sum())
        if den > 0:
            out[members] = num / den
    return out
