"""Readings -> hourly usage rows per meter: the one aggregation the consumer and the
offline jobs share, so the service and its evaluation see the same numbers."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HourlyUsage:
    meter_ids: np.ndarray  # int64
    hour_start_unix_s: np.ndarray  # int64, UTC hour containing the interval
    kwh: np.ndarray  # float64, energy imported in the hour's intervals
    max_kw: np.ndarray  # float64, highest interval demand in the hour
    intervals: np.ndarray  # int32, readings folded in

    def __len__(self) -> int:
        return len(self.meter_ids)


def aggregate(meter_ids: np.ndarray, reading_times_unix_s: np.ndarray, kwh: np.ndarray,
              demand_kw: np.ndarray, interval_s: int = 900) -> HourlyUsage:
    """Sum readings into (meter, hour) cells. Times are interval ends, so the interval's
    start decides its hour (the 00:45-01:00 reading belongs to hour 00)."""
    hour = (reading_times_unix_s - interval_s) // 3600 * 3600
    keys = np.stack([meter_ids, hour])
    uniq, inverse = np.unique(keys, axis=1, return_inverse=True)
    inverse = inverse.ravel()
    sums = np.bincount(inverse, weights=kwh, minlength=uniq.shape[1])
    counts = np.bincount(inverse, minlength=uniq.shape[1]).astype(np.int32)
    peaks = np.full(uniq.shape[1], -np.inf)
    np.maximum.at(peaks, inverse, demand_kw)
    return HourlyUsage(uniq[0], uniq[1], sums, peaks, counts)
