"""Segmentation throughput at utility scale: `python -m bench.segmentation [--customers N]`.

Measured: feature building + nearest-centroid assignment from daily profiles
(customers x days x 24 local hours, float32), in chunks, for 1.2 M customers, over
28 days, the plan's 90 days (`_90d`) and the service's default window (a year,
`_365d`); longer windows repeat the 28 days of profiles (the cost depends on the
array sizes, not the values). The profiles are synthetic: the fleet generator's
segment archetypes (meters.fleet.segments via customer_svc.archetypes) with
lognormal hour/day noise, because generating 1.2 M customers' readings would take
~40 min per 28 days on 2 cores; profile generation time is excluded from the figure.
Target: all 1.2 M in < 60 s, i.e. >= 20,000 customers/s.
"""

import argparse
import time

import numpy as np

from customer_svc.archetypes import archetype_profiles
from customer_svc.features import build_features
from customer_svc.model import SegmentationModel
from customer_svc.profiles import DailyProfiles

CUSTOMER_DAYS_PER_CHUNK = 50_000 * 28  # ~135 MB of float32 profiles per chunk


def _chunk(n: int, seed: int, days: int) -> DailyProfiles:
    base = archetype_profiles(samples=max(1, n // 12 + 1), seed=seed)
    idx = np.random.default_rng(seed).permutation(len(base))[:n]
    reps = -(-days // base.kwh.shape[1])
    kwh = np.tile(base.kwh[idx], (1, reps, 1))[:, :days]
    temp = np.tile(base.temp_c, (1, reps, 1))[:, :days]
    return DailyProfiles(kwh, base.max_kw[idx], np.tile(base.weekend, reps)[:days], base.region[idx], temp_c=temp)


def _segment(model: SegmentationModel, customers: int, days: int) -> tuple[int, float]:
    chunk = max(1_000, CUSTOMER_DAYS_PER_CHUNK // days)
    busy, done = 0.0, 0
    for i, start in enumerate(range(0, customers, chunk)):
        profiles = _chunk(min(chunk, customers - start), i, days)
        t0 = time.perf_counter()
        seg, _conf = model.predict(build_features(profiles))
        busy += time.perf_counter() - t0
        done += len(seg)
        print(f"\r{days} days: segmented {done:,}/{customers:,}", end="", flush=True)
    print()
    return done, busy


def run(customers: int = 1_200_000) -> dict:
    model = SegmentationModel.fit(build_features(_chunk(6_000, 99, 28)))
    figures = {}
    for days, suffix in ((28, ""), (90, "_90d"), (365, "_365d")):
        done, busy = _segment(model, customers, days)
        figures.update({f"segmentation_customers{suffix}": done, f"segmentation_seconds{suffix}": round(busy, 2),
                        f"segmentation_customers_per_s{suffix}": round(done / busy, 1)})
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_200_000)
    print(run(parser.parse_args().customers))
