"""Segmentation features (plan 8.1 plus what separates the 12 segments) from usage summaries.

Shapes are normalised by the customer's own mean so a large and a small household
with the same habits look alike; the level is a separate (log) feature. Everything
is computed from a UsageSummary (usage_summary.py: sums that add up over months), so
a year's run costs what its twelve monthly summaries cost to merge, not a pass over
a year of hourly data.
"""

import numpy as np

from customer_svc.profiles import DailyProfiles
from customer_svc.usage_summary import DARK_HOURS, LATE_EDGES, MIDDAY_EDGES, UsageSummary, summarise_by_month

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


def hist_quantiles(hist: np.ndarray, edges: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """Row quantiles of values counted in bins [edges[i], edges[i+1]) (the last bin is open, read as
    its lower edge), interpolated linearly within a bin."""
    cum = np.cumsum(hist, axis=1, dtype=np.float64)
    total = np.maximum(cum[:, -1], 1)
    upper = np.r_[edges[1:], edges[-1]]
    rows = np.arange(len(hist))
    out = []
    for q in qs:
        target = q * total
        b = np.minimum((cum < target[:, None]).sum(axis=1), hist.shape[1] - 1)
        before = np.where(b > 0, cum[rows, b - 1], 0.0)
        frac = np.clip((target - before) / np.maximum(hist[rows, b], 1), 0, 1)
        out.append(edges[b] + (upper[b] - edges[b]) * frac)
    return out


def _hist_share_below(hist: np.ndarray, edges: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Per row, the share of the counted values below limit[row] (linear within the bin holding it)."""
    b = np.clip(np.searchsorted(edges, limit, side="right") - 1, 0, len(edges) - 2)
    rows = np.arange(len(hist))
    below = np.cumsum(hist, axis=1, dtype=np.float64)
    before = np.where(b > 0, below[rows, b - 1], 0.0)
    frac = np.clip((limit - edges[b]) / (edges[b + 1] - edges[b]), 0, 1)
    return (before + hist[rows, b] * frac) / np.maximum(below[:, -1], 1)


def build_features(p: DailyProfiles) -> np.ndarray:
    """(customers, len(FEATURE_NAMES)) float32 from daily profiles, through monthly summaries."""
    return features(summarise_by_month(p))


def features(u: UsageSummary) -> np.ndarray:
    """(customers, len(FEATURE_NAMES)) float32 from a window's summary; hours without data are left
    out of every mean."""
    weekday_hourly = u.weekday_means()  # (c, 24)
    weekend_hourly = u.kwh[:, 1] / np.maximum(u.hours[:, 1], 1)
    hourly = u.hourly_means()
    # Rooftop PV: the import register reads ~0 (< 2 % of the customer's mean hour) through midday.
    mean_h = np.maximum(u.kwh.sum(axis=(1, 2)) / np.maximum(u.hours.sum(axis=(1, 2)), 1), EPS)
    zero_share = _hist_share_below(u.midday_hist, MIDDAY_EDGES, 0.02 * mean_h)
    # Shape and level from the hours PV cannot touch, so a household with panels looks like
    # its neighbours without; its daylight hours take the typical (median) daylight shape.
    dark = weekday_hourly[:, DARK_HOURS].mean(axis=1)
    shape = weekday_hourly / np.maximum(dark, EPS)[:, None]
    pv = zero_share > PV_ZERO_SHARE
    if pv.any() and (~pv).any():
        shape[np.ix_(pv, DAYLIGHT)] = np.median(shape[np.ix_(~pv, DAYLIGHT)], axis=0)
    level = np.log(np.maximum(dark, EPS) * 24)
    dark_sum = np.maximum(hourly[:, DARK_HOURS].sum(axis=1), EPS)
    evening = hourly[:, 18:22].sum(axis=1) / dark_sum
    night = (hourly[:, 22:].sum(axis=1) + hourly[:, :2].sum(axis=1)) / dark_sum
    # A home battery soaks up the evening: PV zeros at noon *and* quiet evening and late hours
    # (a night owl with panels imports late, so it does not look like a battery).
    battery = zero_share * np.clip(1.0 - (evening + night) / 0.55, 0.0, 1.0)

    # Spread and peak relative to the dark hours' mean, which PV cannot lower: a household's
    # panels must not make it look peakier.
    dark_mean = np.maximum(hourly[:, DARK_HOURS].mean(axis=1), EPS)
    n = np.maximum(u.hours[:, :, DARK_HOURS].sum(axis=(1, 2)), 1)
    s1 = u.kwh[:, :, DARK_HOURS].sum(axis=(1, 2)) / n
    std_h = np.sqrt(np.maximum(u.dark_sq / n - 2 * dark_mean * s1 + dark_mean**2, 0))

    weekend_ratio = (weekend_hourly[:, DARK_HOURS].mean(axis=1)
                     / np.maximum(weekday_hourly[:, DARK_HOURS].mean(axis=1), EPS))
    weekend_midday = weekend_hourly[:, 10:16].sum(axis=1) / np.maximum(weekend_hourly.sum(axis=1), EPS)
    if pv.any() and (~pv).any():
        weekend_midday[pv] = np.median(weekend_midday[~pv])
    # EV charging: a few evenings with a big block of energy after 20:00 -> high upper quantile.
    q20, q80 = hist_quantiles(u.late_hist, LATE_EDGES, (0.2, 0.8))
    burst = (q80 - q20) / (4 * dark_mean)
    return np.column_stack([
        shape, level, np.log1p(std_h / dark_mean), np.log1p(u.max_kwh / dark_mean),
        np.log(np.maximum(u.max_kw, EPS)), np.log(np.clip(weekend_ratio, 0.1, 10)), weekend_midday,
        zero_share, battery, evening, night, burst, temperature_slope(u),
    ]).astype(np.float32)


def temperature_slope(u: UsageSummary) -> np.ndarray:
    """Least-squares b in kwh[d, h] ~ m[h] * (1 + b * x[d, h]), per customer.

    x: the region's degree-hours (heating below 18, cooling above 24 degC, weighted like the most
    weather-sensitive segment), centred per hour and day type over the customer's hours with data
    and weather; m: the customer's mean use at that hour and day type (floored at 0.6x the
    customer's mean so PV-zeroed hours do not explode). Each hour's relative deviation counts
    alike (the noise is multiplicative), so b is the relative change of use per weighted degree,
    free of the customer's shape and level. From the summary's sums:
    sum k (x - mean x) = sum kx - mean x * sum k, and sum (x - mean x)^2 = sum x^2 - (sum x)^2 / n.
    NaN (unknown: neutral in the model) without weather.
    """
    m = u.kwh / np.maximum(u.hours, 1)
    m = np.maximum(m, np.maximum(0.6 * m.mean(axis=2, keepdims=True), EPS))
    n = np.maximum(u.hours_weathered, 1)
    mean_x = u.x_sum / n
    num = ((u.kwh_x - mean_x * u.kwh_weathered) / m).sum(axis=(1, 2))
    den = (u.x_sq - u.x_sum * mean_x).sum(axis=(1, 2))
    known = den > 1e-9
    out = np.full(len(u), np.nan, dtype=np.float32)
    out[known] = num[known] / den[known]
    return out
