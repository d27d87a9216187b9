"""`meters evaluate` figures for the transformer thermal forecast on ETTh1 (docs/thermal.md).

Fits the IEC 60076-7 model on the training months, then scores the standard benchmark
(benchmark.py) in the "S", "MS-physics" and (unless job.quick) "M" settings at horizons 96 and 336,
each beside the naive peers on the same windows and the published DLinear / PatchTST figures.
job.quick scores every 24th test window and skips "M". Writes reports/thermal_etth1.png.
"""

import sys
import time
from pathlib import Path

import numpy as np

from meters.ml_jobs import MlJob
from meters.progress import progress_bar
from scoring_svc.thermal.benchmark import HORIZONS, LOOKBACK, Benchmark
from scoring_svc.thermal.data import Etth1
from scoring_svc.thermal.fit import fit, physics_test_error
from scoring_svc.thermal.overload import outlook
from scoring_svc.thermal.plot import plot_thermal
from scoring_svc.thermal.published import PUBLISHED
from scoring_svc.thermal.report import write_markdown

PREFIX = "thermal_"


def _figures(tag: str, setting: str, horizon: int, run: dict) -> dict[str, float]:
    out = {}
    for metric, i in (("mse", 0), ("mae", 1)):
        key = f"{PREFIX}etth1_{tag}_h{horizon}_{metric}"
        out[f"{key}_ours"] = getattr(run["ours"], metric)
        out[f"{key}_naive"] = getattr(run["naive_last"], metric)
        out[f"{key}_naive_yesterday"] = getattr(run["naive_yesterday"], metric)
        if "physics" in run:
            out[f"{key}_physics"] = getattr(run["physics"], metric)
        for model, figures in PUBLISHED.get((setting, horizon), {}).items():
            out[f"{key}_{model}"] = figures[i]
    out[f"{PREFIX}etth1_{tag}_h{horizon}_windows"] = float(run["windows"])
    return out


def evaluate(job: MlJob) -> dict[str, float]:
    return run(Path(job.reports_dir), quick=job.quick)


def run(reports: Path, quick: bool = False) -> dict[str, float]:
    t0 = time.monotonic()
    data = Etth1.load()
    physics = fit(data)
    err = physics_test_error(data, physics)
    p = physics.params
    figures = {
        f"{PREFIX}physics_test_mae_c": err["test_mae_c"], f"{PREFIX}physics_test_bias_c": err["test_bias_c"],
        f"{PREFIX}physics_train_mae_c": err["train_mae_c"], f"{PREFIX}iec_rated_rise_k": p.rated_rise,
        f"{PREFIX}iec_loss_ratio": p.loss_ratio, f"{PREFIX}iec_oil_exponent": p.oil_exponent,
        f"{PREFIX}iec_tau_minutes": p.tau_minutes,
    }
    bench = Benchmark(data, physics, quick=quick)
    ot_std = float(bench.scaler.std[bench.ot_col])
    settings = [("S", "s"), ("MS-physics", "ms_physics")] + ([] if quick else [("M", "m")])
    runs = {}
    with progress_bar() as bar:
        task = bar.add_task("ETTh1 benchmark (setting x horizon)", total=len(settings) * len(HORIZONS))
        for setting, tag in settings:
            for horizon in HORIZONS:
                runs[tag, horizon] = run = bench.run(setting, horizon)
                figures.update(_figures(tag, setting, horizon, run))
                bar.advance(task)
    for horizon in HORIZONS:
        run = runs["ms_physics", horizon]
        figures[f"{PREFIX}etth1_ms_physics_h{horizon}_mae_c_ours"] = run["ours"].mae * ot_std
        figures[f"{PREFIX}physics_forecast_h{horizon}_mae_c"] = run["physics"].mae * ot_std
        figures[f"{PREFIX}naive_h{horizon}_mae_c"] = run["naive_last"].mae * ot_std
    figures.update(_overload(bench, physics, runs["ms_physics", HORIZONS[-1]]))
    reports.mkdir(parents=True, exist_ok=True)
    _plot(reports, data, bench, runs)
    figures[f"{PREFIX}runtime_seconds"] = time.monotonic() - t0
    write_markdown(reports / "thermal_etth1.md", figures, quick)
    return figures


def _overload(bench: Benchmark, physics, run: dict) -> dict[str, float]:
    """The overload / ageing outlook (overload.py) of the MS-physics forecasts against the same computed
    from the measured oil temperature and load, every test window of the longest horizon."""
    col, origins = bench.ot_col, run["origins"]
    horizon = run["forecast"].shape[-1]
    k = physics.per_unit(bench.data.frame)
    lead = np.arange(horizon)[None, :]
    mean, std = bench.scaler.mean[col], bench.scaler.std[col]
    forecast = outlook(run["forecast"] * std + mean, k[origins[:, None] - 24 + lead % 24])  # yesterday's load repeated
    actual = outlook(run["truth"] * std + mean, k[origins[:, None] + lead])
    tag = f"{PREFIX}overload_h{horizon}"
    return {
        f"{tag}_hot_spot_max_c_forecast": float(forecast.hot_spot_c.max()),
        f"{tag}_hot_spot_max_c_actual": float(actual.hot_spot_c.max()),
        f"{tag}_loss_of_life_hours_mean_actual": float(actual.loss_of_life_hours.mean()),
        f"{tag}_loss_of_life_hours_mae": float(np.abs(forecast.loss_of_life_hours - actual.loss_of_life_hours).mean()),
        f"{tag}_windows_over_limit_forecast": float((forecast.hours_over_hot_spot_limit > 0).sum()),
        f"{tag}_windows_over_limit_actual": float((actual.hours_over_hot_spot_limit > 0).sum()),
    }


def _plot(reports: Path, data: Etth1, bench: Benchmark, runs: dict) -> None:
    horizon = HORIZONS[-1]
    s, ms = runs["s", horizon], runs["ms_physics", horizon]
    i = len(ms["origins"]) // 2
    origin = int(ms["origins"][i])
    col = bench.ot_col

    def to_c(z: np.ndarray) -> np.ndarray:
        return z * bench.scaler.std[col] + bench.scaler.mean[col]

    curves = {"ours (S)": to_c(s["forecast"][i]), "ours (MS-physics)": to_c(ms["forecast"][i]),
              "IEC physics projection": bench.projection.forecast(np.array([origin]), horizon)[0]}
    by_step = {"ours (S)": s["ours"].mae_by_step, "ours (MS-physics)": ms["ours"].mae_by_step,
               "IEC physics projection": ms["physics"].mae_by_step,
               "last value": s["naive_last"].mae_by_step, "same hour yesterday": s["naive_yesterday"].mae_by_step}
    plot_thermal(reports / "thermal_etth1.png", data.frame["date"].to_numpy(), data.frame["OT"].to_numpy(float),
                 origin, LOOKBACK, curves, by_step, horizon)


if __name__ == "__main__":
    from meters.ml_jobs import merge_figures

    out = Path(__file__).resolve().parents[2] / "reports"
    result = run(out, quick="--quick" in sys.argv)
    merge_figures(out, result)
    print((out / "thermal_etth1.md").read_text())
