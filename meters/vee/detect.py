"""Validation: which intervals of a meter's series are missing or suspect.

- gap: no reading for the interval.
- zero run: a run of exact zeros longer than the meter's own history makes plausible. A meter
  that often sits at zero for hours (a vacant home, a solar home's import channel at noon) has
  long zero runs as normal; one that never does has a suspect one. A run is suspect when it lasts
  at least `min_zero_run_s` and is longer than the `zero_run_quantile` of the meter's other zero
  runs in the series (with few other runs, longer than all of them).
- spike: a reading far above what the meter does in the same hour of the week: a robust z-score
  (median and MAD of that hour of week over the series) above `spike_z`, and above
  `spike_ratio` times the meter's own `spike_reference_quantile` (so that an appliance switched on at an
  unusual hour, which the z-score alone would flag, is not called a spike).

Suspect intervals are substituted like gaps (estimate.py) and their readings are not used as
history for anything.
"""

from dataclasses import dataclass

import numpy as np

from meters.vee.series import IntervalSeries, run_mask, runs

ZERO_KWH = 0.0005  # meters report 3 decimals: below this is a zero reading
MAD_SCALE = 1.4826  # MAD of a normal distribution -> its standard deviation


@dataclass(frozen=True)
class DetectConfig:
    min_zero_run_s: int = 3 * 3600
    zero_run_quantile: float = 0.99
    spike_z: float = 10.0
    spike_ratio: float = 1.5
    spike_reference_quantile: float = 0.999
    mad_floor_kwh_per_h: float = 0.02  # a meter flat at night must still vary by this much


@dataclass(frozen=True)
class Findings:
    gap: np.ndarray  # bool per interval
    zero_run: np.ndarray
    spike: np.ndarray

    @property
    def suspect(self) -> np.ndarray:
        return self.zero_run | self.spike

    @property
    def targets(self) -> np.ndarray:
        """Every interval that needs a substitute."""
        return self.gap | self.suspect

    def counts(self) -> dict[str, int]:
        return {"gap": int(self.gap.sum()), "zero_run": int(self.zero_run.sum()), "spike": int(self.spike.sum())}


def detect(series: IntervalSeries, cfg: DetectConfig = DetectConfig()) -> Findings:
    kwh = series.kwh
    gap = np.isnan(kwh)
    zero_run = implausible_zero_runs(kwh, series.interval_s, cfg)
    spike = spikes(series, ~gap & ~zero_run, cfg)
    return Findings(gap, zero_run, spike)


def implausible_zero_runs(kwh: np.ndarray, interval_s: int, cfg: DetectConfig) -> np.ndarray:
    starts, lengths = runs(np.abs(kwh) < ZERO_KWH)  # NaN compares False: a gap ends a run
    min_len = -(-cfg.min_zero_run_s // interval_s)
    suspect = np.zeros(len(starts), dtype=bool)
    for j in np.flatnonzero(lengths >= min_len):
        others = np.delete(lengths, j)
        plausible = np.quantile(others, cfg.zero_run_quantile, method="higher") if len(others) else 0
        suspect[j] = lengths[j] > plausible
    return run_mask(len(kwh), starts[suspect], lengths[suspect])


def spikes(series: IntervalSeries, usable: np.ndarray, cfg: DetectConfig) -> np.ndarray:
    kwh = series.kwh
    if usable.sum() < 2:
        return np.zeros(len(kwh), dtype=bool)
    how = series.hour_of_week()
    median, mad = np.full(168, np.nan), np.full(168, np.nan)
    for h in np.unique(how[usable]):  # 168 groups at most
        values = kwh[usable & (how == h)]
        median[h] = np.median(values)
        mad[h] = np.median(np.abs(values - median[h]))
    floor = cfg.mad_floor_kwh_per_h * series.interval_s / 3600
    scale = MAD_SCALE * np.maximum(np.nan_to_num(mad[how], nan=floor), floor)
    z = (kwh - median[how]) / scale
    reference = np.quantile(kwh[usable], cfg.spike_reference_quantile)
    with np.errstate(invalid="ignore"):
        return usable & (z > cfg.spike_z) & (kwh > cfg.spike_ratio * reference)
