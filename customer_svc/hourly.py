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
    slots: np.ndarray  # int32 bitmask of the 5-minute slots (by interval end) folded in

    def __len__(self) -> int:
        return len(self.meter_ids)


def aggregate(meter_ids: np.ndarray, reading_times_unix_s: np.ndarray, kwh: np.ndarray,
              demand_kw: np.ndarray) -> HourlyUsage:
    """Sum readings into (meter, hour) cells. Times are interval ends, so a reading ending
    exactly on the hour belongs to the hour before (00:45-01:00 is hour 00), whatever the
    interval length. A reading repeated within the input counts once."""
    t = reading_times_unix_s - 1
    keys, first = np.unique(np.stack([meter_ids, reading_times_unix_s]), axis=1, return_index=True)
    t, kwh, demand_kw, meter_ids = t[first], kwh[first], demand_kw[first], meter_ids[first]
    hour = t // 3600 * 3600
    slot_bit = np.left_shift(1, (t % 3600) // 300).astype(np.int64)
    uniq, inverse = np.unique(np.stack([meter_ids, hour]), axis=1, return_inverse=True)
    inverse = inverse.ravel()
    n = uniq.shape[1]
    sums = np.bincount(inverse, weights=kwh, minlength=n)
    peaks = np.full(n, -np.inf)
    np.maximum.at(peaks, inverse, demand_kw)
    slots = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(slots, inverse, slot_bit)
    return HourlyUsage(uniq[0], uniq[1], sums, peaks, slots.astype(np.int32))


def concat(parts: list[HourlyUsage]) -> HourlyUsage:
    return HourlyUsage(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                         ("meter_ids", "hour_start_unix_s", "kwh", "max_kw", "slots")))
