"""Estimation: substitutes for the intervals validation marked (gaps and suspects).

In order of preference, per interval (method flags in methods.py):
1. Linear (17): a gap of at most `linear_max_s` with actuals on both sides is interpolated
   between them.
2. Like day (15, or 14 when only one like day has data): the same interval on the nearest
   preceding like days within `lookback_days`, at most `like_days` of them, combined by
   `combine`. Optionally scaled to the meter's level around the gap (`scale_window_s`): the
   ratio of the actuals in that window to the like-day estimate of the same intervals.
3. ADL (25): the meter's own mean profile by interval of the week, scaled to its level over the
   `level_days` before the gap, when no like day has data.

Intervals after the meter's latest actual get forward estimates: quality E and the prospective
flags (20, 22); everything else is S. An interval left without any estimate (a meter with no
history at all) is not returned.
"""

from dataclasses import dataclass

import numpy as np

from meters.vee import methods
from meters.vee.likeday import like_day_values, week_profile, week_slot
from meters.vee.series import IntervalSeries, runs


@dataclass(frozen=True)
class EstimateConfig:
    """Defaults chosen by `meters vee tune` on the 20 SGSC tuning households (docs/vee.md): the
    lowest mean of the per-gap-kind MAEs among configurations whose energy bias is within 5 %.
    (The median of like days, unscaled, lowers the MAE but under-estimates energy by up to a third:
    MAE rewards the median of a skewed load, the bill needs the mean.)"""

    linear_max_s: int = 2 * 3600
    like_days: int = 16
    lookback_days: int = 56
    combine: str = "mean"  # or "median"
    scale_window_s: int = 24 * 3600  # 0: like days are not scaled
    scale_bounds: tuple[float, float] = (0.5, 2.0)
    level_days: int = 28


@dataclass(frozen=True)
class Substitutes:
    index: np.ndarray  # int64 positions in the series
    kwh: np.ndarray
    method: np.ndarray  # int16 method flags
    quality: np.ndarray  # '<U1': S or E

    def __len__(self) -> int:
        return len(self.index)


def estimate(series: IntervalSeries, targets: np.ndarray, cfg: EstimateConfig = EstimateConfig()) -> Substitutes:
    """Substitutes for every interval where `targets` is True (gaps and suspects)."""
    n = len(series)
    targets = np.asarray(targets, dtype=bool) | np.isnan(series.kwh)
    history = np.where(targets, np.nan, series.kwh)
    values = np.full(n, np.nan)
    method = np.zeros(n, dtype=np.int16)

    linear = _linear_runs(history, targets, cfg.linear_max_s // series.interval_s)
    for s, e in linear:
        a, b = history[s - 1], history[e]
        values[s:e] = a + (b - a) * np.arange(1, e - s + 1) / (e - s + 1)
        method[s:e] = methods.LINEAR

    rest = np.flatnonzero(targets & (method == 0))
    like, used = like_day_values(series, history, rest, cfg.like_days, cfg.lookback_days, cfg.combine)
    if cfg.scale_window_s:
        like = like * _level_ratio(series, history, rest, cfg)
    found = used > 0
    values[rest[found]] = like[found]
    method[rest[found]] = np.where(used[found] > 1, methods.AVERAGE_LIKE_DAY, methods.LIKE_DAY)

    rest = np.flatnonzero(targets & (method == 0))
    values[rest] = _adl(series, history, rest, cfg.level_days)
    method[rest] = np.where(np.isnan(values[rest]), 0, methods.ADL)

    index = np.flatnonzero(targets & (method != 0))
    known = np.flatnonzero(~np.isnan(history))
    forward = index > known[-1] if len(known) else np.ones(len(index), dtype=bool)
    flags = method[index]
    flags[forward] = [methods.PROSPECTIVE[int(f)] for f in flags[forward]]
    quality = np.where(forward, methods.ESTIMATED, methods.SUBSTITUTED)
    return Substitutes(index, values[index], flags, quality)


def _linear_runs(history: np.ndarray, targets: np.ndarray, max_len: int) -> list[tuple[int, int]]:
    starts, lengths = runs(targets)
    ends = starts + lengths
    ok = (lengths <= max_len) & (starts > 0) & (ends < len(history))
    ok[ok] &= ~np.isnan(history[starts[ok] - 1]) & ~np.isnan(history[ends[ok]])
    return list(zip(starts[ok].tolist(), ends[ok].tolist()))


def _level_ratio(series: IntervalSeries, history: np.ndarray, rest: np.ndarray, cfg: EstimateConfig) -> np.ndarray:
    """Per target: actuals / like-day estimate over the known intervals within scale_window_s
    either side of the target's run, clipped to scale_bounds (1 where nothing to compare)."""
    ratio = np.ones(len(rest))
    if not len(rest):
        return ratio
    w = cfg.scale_window_s // series.interval_s
    breaks = np.flatnonzero(np.diff(rest) > 1) + 1
    for group in np.split(np.arange(len(rest)), breaks):
        s, e = rest[group[0]], rest[group[-1]] + 1
        around = np.r_[max(0, s - w):s, e:min(len(history), e + w)]
        around = around[~np.isnan(history[around])]
        if not len(around):
            continue
        like, used = like_day_values(series, history, around, cfg.like_days, cfg.lookback_days, cfg.combine)
        ok = used > 0
        expected = like[ok].sum()
        if ok.any() and expected > 0:
            ratio[group] = np.clip(history[around[ok]].sum() / expected, *cfg.scale_bounds)
    return ratio


def _adl(series: IntervalSeries, history: np.ndarray, rest: np.ndarray, level_days: int) -> np.ndarray:
    """The meter's week profile at each target, scaled to its level (actuals / profile) over the
    level_days before the start of the target's run (the whole history's level if none)."""
    if not len(rest):
        return np.zeros(0)
    shaped = week_profile(series, history)[week_slot(series)]
    known = ~np.isnan(history)
    actual_cum = np.concatenate(([0.0], np.cumsum(np.where(known, history, 0.0))))
    shape_cum = np.concatenate(([0.0], np.cumsum(np.where(known, shaped, 0.0))))
    run_start = rest - (np.arange(len(rest)) - np.maximum.accumulate(
        np.where(np.diff(rest, prepend=rest[0] - 2) > 1, np.arange(len(rest)), 0)))
    lo = np.maximum(0, run_start - level_days * series.per_day)
    actual = actual_cum[run_start] - actual_cum[lo]
    expected = shape_cum[run_start] - shape_cum[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(expected > 0, actual / expected, 1.0)
    return shaped[rest] * level
