"""Validation measured on real series: spikes and zero runs planted where the truth is clean,
and how many of them validation finds; and what it flags on the real data as it is (which may
include real faults: SGSC is as exported, with its vacant weeks and stuck meters)."""

import numpy as np

from meters.vee.detect import DetectConfig, detect
from meters.vee.series import IntervalSeries

SPIKE_MULTIPLES = (2.0, 10.0)  # planted spike = this many times the meter's 99.9th percentile
ZERO_RUN_HOURS = (4.0, 12.0)


def plant(series: IntervalSeries, clean: np.ndarray, rng: np.random.Generator, spikes: int = 10):
    """A copy of the series with `spikes` spikes (a week or more apart) and one zero run planted on
    clean intervals; returns (series, spike positions, (start, length) of the zero run or None).
    One zero run at a time: several planted runs would be each other's plausible history."""
    kwh = series.kwh.copy()
    reference = np.quantile(kwh[clean], 0.999)
    week = 7 * series.per_day
    places = np.arange(week, len(kwh) - week, week) + rng.integers(0, week // 2)
    places = places[clean[places]]
    at = rng.permutation(places)[:spikes]
    kwh[at] = reference * rng.uniform(*SPIKE_MULTIPLES, len(at))
    per_hour = 3600 // series.interval_s
    length = int(rng.integers(ZERO_RUN_HOURS[0] * per_hour, ZERO_RUN_HOURS[1] * per_hour + 1))
    fits = np.flatnonzero(np.convolve(clean, np.ones(length), "valid") == length)
    fits = fits[fits >= week]
    run = None
    if len(fits):
        i = int(rng.choice(fits))
        kwh[i:i + length] = 0.0
        run = (i, length)
    return series.with_kwh(kwh), np.sort(at), run


def detection_figures(series_by_meter: dict[int, IntervalSeries], meters: list[int], seed: int, rounds: int = 5,
                      cfg: DetectConfig = DetectConfig()) -> dict[str, float]:
    found_spikes = planted_spikes = found_runs = planted_runs = 0
    flagged_real = {"spike": 0, "zero_run": 0}
    intervals = 0
    for m in meters:
        s = series_by_meter[m]
        real = detect(s, cfg)
        intervals += int((~real.gap).sum())
        flagged_real["spike"] += int(real.spike.sum())
        flagged_real["zero_run"] += int(real.zero_run.sum())
        rng = np.random.default_rng([seed, m])
        for _ in range(rounds):
            planted, spikes, run = plant(s, ~real.targets, rng)
            after = detect(planted, cfg)
            planted_spikes += len(spikes)
            found_spikes += int(after.spike[spikes].sum())
            if run is not None:
                planted_runs += 1
                found_runs += bool(after.zero_run[run[0]:run[0] + run[1]].all())
    meter_years = intervals / (365 * 48)
    return {
        "vee_spike_recall": found_spikes / max(planted_spikes, 1),
        "vee_spikes_planted": float(planted_spikes),
        "vee_zero_run_recall": found_runs / max(planted_runs, 1),
        "vee_zero_runs_planted": float(planted_runs),
        "vee_real_spikes_per_meter_year": flagged_real["spike"] / meter_years,
        "vee_real_zero_run_suspect_share": flagged_real["zero_run"] / max(intervals, 1),
    }
