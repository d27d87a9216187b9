"""Gaps cut out of real series where the truth is known, for measuring estimation.

A realistic mix of outage lengths (`KINDS`): single intervals, 1-2 h, 2-6 h and whole local
days. Each round places gaps at random (fixed seed) at least `spacing_days` apart, only where
every interval of the gap has a reading that validation did not mark suspect, and only after
`warmup_days` of the meter's data (so that like days and the baselines have weeks to look back on).
Several rounds per meter give more gaps without gaps of one round hiding each other's like days.
"""

from dataclasses import dataclass

import numpy as np

from meters.vee.series import IntervalSeries

# name, shortest and longest gap in hours (a "day" gap is one whole local day)
KINDS = (("30 min", 0.5, 0.5), ("1-2 h", 1.0, 2.0), ("2-6 h", 2.5, 6.0), ("1 day", 24.0, 24.0))
WEIGHTS = (0.3, 0.25, 0.25, 0.2)


@dataclass(frozen=True)
class Cut:
    start: int  # index in the series
    length: int
    kind: str


def cut_gaps(series: IntervalSeries, clean: np.ndarray, rng: np.random.Generator, spacing_days: int = 10,
             warmup_days: int = 35) -> list[Cut]:
    """One round of gaps; `clean` marks intervals whose reading may serve as truth."""
    per_day, per_hour = series.per_day, 3600 // series.interval_s
    usable = np.concatenate(([0], np.cumsum(clean)))
    cuts, pos = [], warmup_days * per_day + int(rng.integers(0, spacing_days * per_day))
    while pos < len(series):
        k = int(rng.choice(len(KINDS), p=WEIGHTS))
        name, lo, hi = KINDS[k]
        if name == "1 day":
            start = pos - series.slot_of_day()[pos]  # the local day that pos falls in
            length = per_day
        else:
            start = pos
            length = int(rng.integers(round(lo * per_hour), round(hi * per_hour) + 1))
        end = start + length
        if end <= len(series) and usable[end] - usable[start] == length:
            cuts.append(Cut(int(start), length, name))
        pos = end + spacing_days * per_day + int(rng.integers(0, per_day))
    return cuts


def cut_mask(n: int, cuts: list[Cut]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for c in cuts:
        mask[c.start:c.start + c.length] = True
    return mask


