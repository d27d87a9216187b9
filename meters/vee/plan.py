"""What a VEE run changes for one meter: validation and estimation over its stored readings.

Input: the meter's stored readings over the run's window and the history before it (kWh and
quality method letter per interval end). Only actuals (A) are history; an interval that already
holds a substitute keeps it (a second run over the same window changes nothing; the actual
replaces it when it comes). Output: one Edit per interval of the window that gets a substitute:
a gap, or a suspect actual (a zero run or spike) whose run is no longer than `max_suspect_run_s`
(a longer suspect run, a vacant fortnight, is left for a person to judge and only counted).
Nothing is estimated before the meter's first reading or more than `max_forward_s` after its
latest actual.
"""

from dataclasses import dataclass, field

import numpy as np

from meters.vee.detect import DetectConfig, detect
from meters.vee.estimate import EstimateConfig, estimate
from meters.vee.methods import ACTUAL
from meters.vee.series import on_grid, run_mask, runs

GAP, ZERO_RUN, SPIKE = "gap", "zero_run", "spike"


@dataclass(frozen=True)
class PlanConfig:
    detect: DetectConfig = DetectConfig()
    estimate: EstimateConfig = EstimateConfig()
    max_suspect_run_s: int = 86_400
    max_forward_s: int = 7 * 86_400


@dataclass(frozen=True)
class Edits:
    """Substitutes for one meter, aligned arrays."""
    ends_s: np.ndarray  # int64
    kwh: np.ndarray
    method: np.ndarray  # int16 method flag
    quality: np.ndarray  # '<U1' S or E
    reason: np.ndarray  # '<U8' gap / zero_run / spike
    before_kwh: np.ndarray  # NaN for a gap
    left_suspect: int = 0  # suspect intervals in runs too long to substitute
    counts: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ends_s)


def interval_of(ends_s: np.ndarray) -> int:
    """The meter's interval length: the commonest step between its readings (0 if unknown)."""
    steps = np.diff(np.unique(ends_s))
    if not len(steps):
        return 0
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])


def plan(ends_s: np.ndarray, kwh: np.ndarray, quality: np.ndarray, window: tuple[int, int], now_s: int,
         cfg: PlanConfig = PlanConfig()) -> Edits:
    """Edits for one meter over window = [start_s, end_s) of interval ends."""
    ends_s, kwh, quality = np.asarray(ends_s, np.int64), np.asarray(kwh, float), np.asarray(quality)
    interval = interval_of(ends_s)
    actual = quality == ACTUAL
    if not interval or not actual.any():
        return _nothing()
    start_s, end_s = window
    first = int(ends_s.min())
    last_actual = int(ends_s[actual].max())
    last = min(end_s - 1, now_s, last_actual + cfg.max_forward_s)
    last = first + (last - first) // interval * interval
    if last < max(first, start_s):
        return _nothing()
    on = ends_s <= last
    stored = on_grid(ends_s[on], np.where(actual, kwh, np.nan)[on], interval, first_end_s=first, last_end_s=last)
    held = on_grid(ends_s[on], np.ones(on.sum()), interval, first_end_s=first, last_end_s=last).kwh == 1
    substitute_held = held & np.isnan(stored.kwh)  # a stored substitute: leave it
    found = detect(stored, cfg.detect)
    in_window = stored.ends_s >= start_s
    suspect = found.suspect & in_window
    starts, lengths = runs(suspect)
    short = lengths * interval <= cfg.max_suspect_run_s
    suspect_to_fix = run_mask(len(stored), starts[short], lengths[short])
    gap = found.gap & in_window & ~substitute_held
    targets = gap | suspect_to_fix
    subs = estimate(stored, found.suspect | targets, cfg.estimate)  # no suspect is history
    keep = targets[subs.index]
    index = subs.index[keep]
    reason = np.where(found.spike[index], SPIKE, np.where(found.zero_run[index], ZERO_RUN, GAP))
    edits = Edits(stored.ends_s[index], subs.kwh[keep], subs.method[keep], subs.quality[keep], reason,
                  stored.kwh[index], int(suspect.sum() - suspect_to_fix.sum()))
    edits.counts.update({r: int((reason == r).sum()) for r in (GAP, ZERO_RUN, SPIKE)})
    return edits


def _nothing() -> Edits:
    return Edits(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int16), np.zeros(0, "<U1"),
                 np.zeros(0, "<U8"), np.zeros(0))
