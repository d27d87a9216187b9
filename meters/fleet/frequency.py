"""Power frequency: one system frequency for the whole fleet (the NEM mainland is one synchronous
area), sampled by the meters that report it at each interval end, with planted excursions.

Normal operation: 50 Hz plus noise of std 0.025 Hz (NEM frequency sits inside the normal operating
band, 49.85-50.15 Hz, well over 99 % of the time). Excursions: a large generator trip dips
frequency to a nadir (49.55-49.8 Hz) within seconds, then governors and contingency FCAS bring it
back exponentially over minutes (the Frequency Operating Standard asks for the normal band again
within 5 minutes); a load trip or network separation swings it up (50.2-50.35 Hz) the same way.
The meters only sample at interval ends, so an excursion between samples would not be in the data:
each planted trip is placed 10 s to 70 % of its time outside the band before an interval end, and
truth/frequency_excursions.parquet says when it started, its nadir and the value that was sampled.
"""

import numpy as np
import pandas as pd

from meters.fleet.calendar import interval_end_times
from meters.fleet.config import FleetConfig

NOMINAL_HZ = 50.0
SYSTEM_STD_HZ = 0.025
METER_STD_HZ = 0.003  # meter measurement error (class A power-quality meters: +-0.01 Hz)
NORMAL_BAND_HZ = 0.15  # half-width of the normal operating frequency band
REPORTING_SHARE = 0.4  # meters with a power-quality register that report frequency
EXCURSIONS_PER_WEEK = 0.5
HIGH_SHARE = 0.2  # of excursions: over-frequency (load trip) rather than a generator trip
NADIR_S = 8.0  # seconds from trip to nadir


def frequency_reporters(cfg: FleetConfig, meter_ids: np.ndarray) -> np.ndarray:
    """Whether each meter reports frequency: fixed per meter for the run, whatever the chunking."""
    n = int(np.max(meter_ids, initial=0)) + 1
    return np.random.default_rng([cfg.seed, 23]).random(n)[meter_ids] < REPORTING_SHARE


def plan_frequency_excursions(cfg: FleetConfig) -> pd.DataFrame:
    """The planted excursions of the run (truth): start, nadir, recovery, the sampled interval end."""
    rng = np.random.default_rng([cfg.seed, 29])
    count = int(rng.poisson(EXCURSIONS_PER_WEEK * cfg.days / 7.0))
    high = rng.random(count) < HIGH_SHARE
    deviation = np.where(high, rng.uniform(0.2, 0.35, count), -rng.uniform(0.2, 0.45, count))
    tau_s = rng.uniform(60.0, 150.0, count)  # recovery time constant
    outside_s = NADIR_S + tau_s * np.log(np.abs(deviation) / NORMAL_BAND_HZ)  # until back in the band
    days = rng.integers(0, cfg.days, count)
    slots = rng.integers(0, cfg.intervals_per_day, count)
    sample = np.array([interval_end_times(cfg, int(d))[s] for d, s in zip(days, slots)], dtype=np.int64)
    before = rng.uniform(10.0, np.maximum(11.0, 0.7 * outside_s))
    start = sample - before.astype(np.int64)
    plan = pd.DataFrame({"excursion_id": np.arange(1, count + 1), "start_unix_s": start,
                         "direction": np.where(high, "high", "low"), "nadir_hz": NOMINAL_HZ + deviation,
                         "recovery_tau_s": tau_s, "back_in_band_unix_s": start + np.ceil(outside_s).astype(np.int64),
                         "sampled_at_unix_s": sample})
    plan["sampled_hz"] = NOMINAL_HZ + excursion_deviation(plan, sample)
    return plan.sort_values("start_unix_s", ignore_index=True)


def excursion_deviation(plan: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """Sum of the planted excursions' deviation from nominal at `times` (Hz)."""
    out = np.zeros(len(times))
    for start, nadir, tau in plan[["start_unix_s", "nadir_hz", "recovery_tau_s"]].itertuples(index=False):
        dt = times - start
        dev = nadir - NOMINAL_HZ
        ramp = np.where(dt < NADIR_S, dev * np.clip(dt, 0, None) / NADIR_S, dev * np.exp(-np.clip(dt - NADIR_S, 0, None) / tau))
        out += np.where(dt >= 0, ramp, 0.0)
    return out


def system_frequency(cfg: FleetConfig, day: int, times: np.ndarray, plan: pd.DataFrame) -> np.ndarray:
    """The system frequency at `times` (one day's interval ends): the same for every chunk of the day."""
    noise = np.random.default_rng([cfg.seed, 31, day]).normal(0.0, SYSTEM_STD_HZ, len(times))
    return NOMINAL_HZ + noise + excursion_deviation(plan, times)


def meter_frequency(rng: np.random.Generator, system: np.ndarray, reports: np.ndarray) -> np.ndarray:
    """(meters, intervals) frequency as each meter reports it (2 decimals), NaN where it does not."""
    f = system[None, :] + rng.normal(0.0, METER_STD_HZ, (len(reports), len(system)))
    f = np.round(f, 2)
    f[~reports] = np.nan
    return f
