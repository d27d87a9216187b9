"""One meter's interval readings on a regular grid, with the NEM-time calendar VEE needs.

Readings are kWh per interval keyed by interval end (Unix seconds, UTC, as everywhere in the
platform). VEE works on a dense grid instead: element i is the interval ending at
`first_end_s + i * interval_s`, NaN where nothing is stored. Calendar questions (which weekday,
which slot of the day) are asked in NEM time, UTC+10 all year, which is how Australian meters and
NEM12 files keep their clocks; the offset is a parameter for meters elsewhere.
"""

from dataclasses import dataclass

import numpy as np

from meters.nem12.nemtime import NEM_OFFSET_S

DAY_S = 86_400
WEEK_S = 7 * DAY_S
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


@dataclass(frozen=True)
class IntervalSeries:
    first_end_s: int
    interval_s: int
    kwh: np.ndarray  # float64, NaN = no reading
    utc_offset_s: int = NEM_OFFSET_S

    def __len__(self) -> int:
        return len(self.kwh)

    @property
    def ends_s(self) -> np.ndarray:
        return self.first_end_s + self.interval_s * np.arange(len(self.kwh), dtype=np.int64)

    @property
    def per_day(self) -> int:
        return DAY_S // self.interval_s

    def _local_starts(self) -> np.ndarray:
        return self.ends_s - self.interval_s + self.utc_offset_s

    def day_number(self) -> np.ndarray:
        """Local calendar day of each interval (days since 1970-01-01, by the interval's start)."""
        return self._local_starts() // DAY_S

    def weekday(self) -> np.ndarray:
        return (self.day_number() + EPOCH_WEEKDAY) % 7

    def slot_of_day(self) -> np.ndarray:
        return (self._local_starts() % DAY_S) // self.interval_s

    def hour_of_week(self) -> np.ndarray:
        """0 = Monday 00:00-01:00 local, ... 167 = Sunday 23:00-24:00."""
        return self.weekday() * 24 + (self._local_starts() % DAY_S) // 3600

    def with_kwh(self, kwh: np.ndarray) -> "IntervalSeries":
        return IntervalSeries(self.first_end_s, self.interval_s, kwh, self.utc_offset_s)


def on_grid(ends_s: np.ndarray, kwh: np.ndarray, interval_s: int, first_end_s: int | None = None,
            last_end_s: int | None = None, utc_offset_s: int = NEM_OFFSET_S) -> IntervalSeries:
    """Place readings on the grid of `interval_s` from first_end_s to last_end_s (default: the
    first and last reading). Every end time must lie on the grid and appear once."""
    ends_s = np.asarray(ends_s, dtype=np.int64)
    kwh = np.asarray(kwh, dtype=np.float64)
    if interval_s <= 0 or DAY_S % interval_s:
        raise ValueError(f"interval of {interval_s} s does not divide a day")
    if first_end_s is None:
        if not len(ends_s):
            raise ValueError("no readings and no window to place them in")
        first_end_s = int(ends_s.min())
    if last_end_s is None:
        last_end_s = int(ends_s.max()) if len(ends_s) else first_end_s
    offsets = ends_s - first_end_s
    if np.any(offsets % interval_s):
        raise ValueError(f"{int(np.count_nonzero(offsets % interval_s))} readings are off the {interval_s} s grid")
    n = (last_end_s - first_end_s) // interval_s + 1
    index = offsets // interval_s
    inside = (index >= 0) & (index < n)
    index, values = index[inside], kwh[inside]
    if len(np.unique(index)) != len(index):
        raise ValueError("two readings for one interval")
    grid = np.full(n, np.nan)
    grid[index] = values
    return IntervalSeries(int(first_end_s), int(interval_s), grid, utc_offset_s)


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and lengths of the runs of True in a boolean array."""
    padded = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    starts, stops = edges[::2], edges[1::2]
    return starts, stops - starts


def run_mask(n: int, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The boolean array of length n that is True on the given runs."""
    delta = np.zeros(n + 1, dtype=np.int64)
    np.add.at(delta, starts, 1)
    np.add.at(delta, starts + lengths, -1)
    return np.cumsum(delta[:-1]) > 0
