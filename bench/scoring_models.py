"""In-process latency and throughput of the anomaly detector: `python -m bench.scoring_models`.

Trains quick models into a temporary registry (or loads the promoted ones with --promoted),
then scores one reading per call with its meter's 24 h history (p99), and batches.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from meters.ml_jobs import MlJob
from meters.model_registry import ModelRegistry
from scoring_svc.models.anomaly import AnomalyDetector
from scoring_svc.models.fleet_data import load_fleet
from scoring_svc.models.fleets import anomaly_fleet


def run(promoted: bool = False, calls: int = 500) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    job = MlJob(ModelRegistry(tmp / "registry"), tmp / "reports", quick=True)
    if promoted:
        detector = AnomalyDetector.load(ModelRegistry())
    else:
        from scoring_svc.training import train_anomaly
        train_anomaly(job)
        detector = AnomalyDetector.load(job.registry)
    r = load_fleet(anomaly_fleet(job)).readings
    meters = np.unique(r.meter_ids)[:calls]
    cases = []
    for m in meters:
        rows = np.flatnonzero(r.meter_ids == m)[-97:]
        cases.append((r.take(rows[:-1]), r.take(rows[-1:])))
    for h, n in cases[:20]:
        detector.score(h, n)  # warm-up
    times = []
    for h, n in cases:
        t0 = time.perf_counter()
        detector.score(h, n)
        times.append(time.perf_counter() - t0)
    # Batch: the last reading of every meter with its history, in one call.
    last = np.r_[np.flatnonzero(r.meter_ids[1:] != r.meter_ids[:-1]), len(r) - 1]
    hist_rows = np.flatnonzero(r.reading_times_unix_s > r.reading_times_unix_s.max() - 86_400)
    hist_rows = np.setdiff1d(hist_rows, last)
    t0 = time.perf_counter()
    detector.score(r.take(hist_rows), r.take(last))
    batch_s = time.perf_counter() - t0
    return {
        "scoring_model_p50_ms": float(np.percentile(times, 50) * 1e3),
        "scoring_model_p99_ms": float(np.percentile(times, 99) * 1e3),
        "scoring_model_batch_readings_per_s": len(last) / batch_s,
        "scoring_model_batch_history_rows": float(len(hist_rows)),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--promoted", action="store_true", help="use the promoted model instead of a quick one")
    for k, v in run(ap.parse_args().promoted).items():
        print(f"{k:40s} {v:14.3f}")
