"""The plan's 12 segments (8.1) rendered as noise-free daily profiles, one per segment.

They serve two purposes, neither of which uses any customer's label: their
features seed K-means (one centroid per segment, so clusters start where the
segments are), and after fitting, the Hungarian assignment between fitted
centroids and archetypes names each cluster. The shapes, levels, weekend and
solar/EV traits come from the segment definitions in meters/fleet/segments.py,
which encode the plan's table (peak hours, typical use).
"""

import numpy as np

from customer_svc.profiles import DailyProfiles
from meters.fleet.segments import SEGMENT_KEYS, SEGMENTS, shape_factors, temperature_factors

DAYS = 28  # four weeks: whole weekends, like the usage windows segmentation runs over
SAMPLES = 64  # noisy renderings per segment, averaged in feature space
_HOURS = np.arange(24) + 0.5
# A typical Australian summer day (degC by hour): cooling load in the afternoon, which is
# what sets weather-sensitive ("seasonal") households apart within a few weeks of data.
_TEMP = 22.5 + 5.0 * np.cos(2 * np.pi * (_HOURS - 15.0) / 24.0)
# Typical smart-meter variability: hour-to-hour and day-to-day lognormal noise. Features
# such as peak-to-mean or max demand only mean something against noisy profiles.
HOUR_SIGMA, DAY_SIGMA = 0.45, 0.25
TEMP_ANOMALY_SD = 2.5  # degC, day to day


def archetype_profiles(samples: int = SAMPLES, seed: int = 0) -> DailyProfiles:
    """samples noisy renderings of each segment, rows ordered segment-major."""
    weekend = (np.arange(DAYS) % 7) >= 5
    hours = np.broadcast_to(_HOURS, (DAYS, 24))
    shapes = shape_factors(hours, np.broadcast_to(weekend[:, None], (DAYS, 24)))  # (seg, days, 24)
    # Day-to-day weather: the typical day shifted by a daily anomaly, so temperature sensitivity shows.
    temp = _TEMP[None, :] + np.random.default_rng(seed + 1).normal(0.0, TEMP_ANOMALY_SD, DAYS)[:, None]
    shapes *= temperature_factors(temp)
    kwh = np.empty((len(SEGMENTS), DAYS, 24))
    for i, seg in enumerate(SEGMENTS):
        kwh[i] = shapes[i] * seg.daily_kwh / 24
        if seg.battery:  # rooftop PV covers the day, the battery most of the evening
            kwh[i, :, 8:17] = 0.0
            kwh[i, :, 16:24] *= 0.15
        if seg.ev_share == 1.0:  # 7.2 kW for ~2 h from 20:30 on 60 % of evenings
            charging = (np.arange(DAYS) % 5) < 3
            kwh[i, charging, 20] += 3.6
            kwh[i, charging, 21:23] += 7.2 / 2
    rng = np.random.default_rng(seed)
    noisy = np.repeat(kwh, samples, axis=0)
    noisy *= rng.lognormal(-HOUR_SIGMA**2 / 2, HOUR_SIGMA, noisy.shape)
    noisy *= rng.lognormal(-DAY_SIGMA**2 / 2, DAY_SIGMA, noisy.shape[:2])[..., None]
    # Peak interval demand: a 15-minute interval well above its hour's mean.
    max_kw = noisy.max(axis=(1, 2)) * 4 * 1.6
    return DailyProfiles(noisy.astype(np.float32), max_kw.astype(np.float32), weekend,
                         np.zeros(len(noisy), dtype=np.int64), temp_c=temp[None].astype(np.float32))


def archetype_features(build) -> np.ndarray:
    """(12, features): each segment's mean feature vector over its noisy renderings."""
    X = build(archetype_profiles())
    return X.reshape(len(SEGMENTS), -1, X.shape[1]).mean(axis=1)


def archetype_keys() -> tuple[str, ...]:
    return SEGMENT_KEYS
