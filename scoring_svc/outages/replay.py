"""Replay a fleet's head-end view through the detector: delivered events and the readings that arrive.

Readings are simulated from the planted outages the way the fleet writes them (a reading is absent
when its meter was off for at least half of the interval), plus the fleet's i.i.d. share of
missing intervals as noise, without generating interval data. Each interval's readings arrive
`readings_lag_s` after it ends; events are fed in time order between them.
"""

import time

import numpy as np
import pandas as pd

from meters.fleet.outages import meter_ranges
from scoring_svc.outages.detector import OutageDetector

MISSING_INTERVAL_SHARE = 0.0005  # docs/fleet.md: 0.05 % of slots are missing intervals


def absent_slots(cfg, topology, outages: pd.DataFrame) -> dict[int, list[tuple[int, int]]]:
    """Interval index -> meter-row ranges [lo, hi) with no reading (off for at least half the interval)."""
    iv = cfg.interval_seconds
    lo, hi = meter_ranges(topology, outages["level"].to_numpy(), outages["asset_id"].to_numpy())
    end_run = cfg.start_unix_s + cfg.days * 86_400
    out: dict[int, list[tuple[int, int]]] = {}
    for s, r, a, b in zip(outages["started_unix_s"].to_numpy(), outages["restored_unix_s"].fillna(end_run).to_numpy(),
                          lo, hi):
        k = np.arange((int(s) - cfg.start_unix_s) // iv, (int(r) - cfg.start_unix_s) // iv + 1)
        begin = cfg.start_unix_s + k * iv
        off = np.minimum(r, begin + iv) - np.maximum(s, begin)
        for j in k[off >= iv / 2]:
            out.setdefault(int(j), []).append((int(a), int(b)))
    return out


def replay(cfg, topology, outages: pd.DataFrame, events: pd.DataFrame, detector: OutageDetector,
           readings: bool = True) -> dict[str, float]:
    """Feed everything in time order; returns timings. The detector holds the result."""
    iv = cfg.interval_seconds
    lag = detector.cfg.readings_lag_s
    n_intervals = cfg.days * 86_400 // iv
    ids = topology.meters["meter_id"].to_numpy(np.int64)
    absent = absent_slots(cfg, topology, outages) if readings else {}
    rng = np.random.default_rng([cfg.seed, 1414])
    t_ms = events["event_time_unix_ms"].to_numpy(np.int64)
    t0 = time.perf_counter()
    events_s = readings_s = 0.0
    done = 0
    for k in range(n_intervals + 1):
        end = cfg.start_unix_s + (k + 1) * iv
        upto = int(np.searchsorted(t_ms, (end + lag) * 1000, side="left"))
        a = time.perf_counter()
        detector.feed_events(events.iloc[done:upto])
        events_s += time.perf_counter() - a
        done = upto
        if readings and k < n_intervals:
            present = np.ones(len(ids), bool)
            for lo, hi in absent.get(k, ()):
                present[lo:hi] = False
            present[rng.integers(0, len(ids), rng.poisson(MISSING_INTERVAL_SHARE * len(ids)))] = False
            a = time.perf_counter()
            detector.feed_readings_seen(ids[present], end)
            readings_s += time.perf_counter() - a
        a = time.perf_counter()
        detector.advance(end + lag)
        events_s += time.perf_counter() - a
    return {"replay_seconds": time.perf_counter() - t0, "detector_event_seconds": events_s,
            "detector_readings_seconds": readings_s}
