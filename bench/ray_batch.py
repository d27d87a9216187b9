"""Ray for batch work (issue 16): the real-series day-ahead backtests of forecast_svc/real_evaluation.py
(one Ray task per series, meters/ray_batch.py) on a local Ray head with 1 and then 2 worker CPUs,
beside the same backtests in this process. `python -m bench ray_batch` or `python -m bench.ray_batch`.

The job: the six ETTh1 load channels, one fold of BENCH_RAY_FOLD_DAYS (7) day-ahead origins each
(our model fitted once per series, then the four peers). Each Ray leg starts its own head (not timed)
and runs the batch twice, each timed from the first task submitted to the last result back: the
first (`_cold_s`) includes the workers' start-up and imports (lightgbm, statsmodels, torch), as one
batch on a fresh cluster pays; the second (`_s`) runs on the workers Ray keeps, as on a long-lived
cluster, and is the one compared with this process (whose imports are done before timing).

Figures: ray_batch_in_process_s, ray_batch_1_worker_s, ray_batch_2_workers_s, ..._cold_s,
ray_batch_speedup_2_vs_1 (1-worker seconds / 2-worker seconds, warm; 2.0 is perfect on two cores),
ray_batch_series,
ray_batch_same_result (1.0 when every leg's forecasts are equal), ray_batch_load_avg (1-minute load
average before / after, averaged: another agent's work on the two cores shows here).
"""

import os
import time

import numpy as np

from forecast_svc.real_evaluation import backtests
from forecast_svc.real_series import etth1_series
from meters.ray_batch import LOCAL, connected

FOLD_DAYS = int(os.environ.get("BENCH_RAY_FOLD_DAYS", 7))


def _timed(series, ray_address=None) -> tuple[float, list]:
    started = time.perf_counter()
    out = backtests(series, folds=1, ray_address=ray_address, fold_days=FOLD_DAYS)
    return time.perf_counter() - started, out


def _same(a: list, b: list) -> bool:
    return all(np.array_equal(x.forecasts[m], y.forecasts[m], equal_nan=True)
               for x, y in zip(a, b, strict=True) for m in x.forecasts)


def run() -> dict[str, float]:
    series = etth1_series()
    load_before = os.getloadavg()[0]
    here_s, here = _timed(series)
    legs = {}
    for workers in (1, 2):
        with connected(LOCAL, num_cpus=workers):
            cold = _timed(series, LOCAL)
            legs[workers] = (*_timed(series, LOCAL), cold)
    figures = {
        "ray_batch_series": float(len(series)),
        "ray_batch_in_process_s": round(here_s, 2),
        "ray_batch_1_worker_s": round(legs[1][0], 2),
        "ray_batch_2_workers_s": round(legs[2][0], 2),
        "ray_batch_1_worker_cold_s": round(legs[1][2][0], 2),
        "ray_batch_2_workers_cold_s": round(legs[2][2][0], 2),
        "ray_batch_speedup_2_vs_1": round(legs[1][0] / legs[2][0], 2),
        "ray_batch_same_result": float(all(_same(here, out) for leg in legs.values() for out in (leg[1], leg[2][1]))),
        "ray_batch_load_avg": round((load_before + os.getloadavg()[0]) / 2, 1),
    }
    for k, v in figures.items():
        print(f"   {k:32s} {v:>10,.2f}")
    return figures


if __name__ == "__main__":
    run()
