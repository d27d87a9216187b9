"""Segmentation throughput at utility scale: `python -m bench.segmentation [--customers N]`.

Measured: feature building + nearest-centroid assignment from daily profiles
(customers x 28 days x 24 local hours, float32), in chunks of 50,000 customers,
for 1.2 M customers. The profiles are synthetic: the fleet generator's segment
archetypes (meters.fleet.segments via customer_svc.archetypes) with lognormal
hour/day noise, because generating 1.2 M customers' readings for 28 days would
take ~40 min on 2 cores; profile generation time is excluded from the figure.
Target: all 1.2 M in < 60 s, i.e. >= 20,000 customers/s.
"""

import argparse
import time

import numpy as np

from customer_svc.archetypes import archetype_profiles
from customer_svc.features import build_features
from customer_svc.model import SegmentationModel
from customer_svc.profiles import DailyProfiles

CHUNK = 50_000


def _chunk(n: int, seed: int) -> DailyProfiles:
    base = archetype_profiles(samples=max(1, n // 12 + 1), seed=seed)
    idx = np.random.default_rng(seed).permutation(len(base))[:n]
    return DailyProfiles(base.kwh[idx], base.max_kw[idx], base.weekend, base.region[idx], temp_c=base.temp_c)


def run(customers: int = 1_200_000) -> dict:
    model = SegmentationModel.fit(build_features(_chunk(6_000, 99)))
    busy, done = 0.0, 0
    counts = np.zeros(12, dtype=np.int64)
    for i, start in enumerate(range(0, customers, CHUNK)):
        profiles = _chunk(min(CHUNK, customers - start), i)
        t0 = time.perf_counter()
        seg, _conf = model.predict(build_features(profiles))
        busy += time.perf_counter() - t0
        counts += np.bincount(seg, minlength=12)
        done += len(seg)
        print(f"\rsegmented {done:,}/{customers:,}", end="", flush=True)
    print()
    return {"segmentation_customers": done, "segmentation_seconds": round(busy, 2),
            "segmentation_customers_per_s": round(done / busy, 1)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_200_000)
    print(run(parser.parse_args().customers))
