"""`meters evaluate` on the real series the project ships (real_series.py): rolling-origin day-ahead
backtests (real_backtest.py) of our model beside each peer, computed in the same run, without
weather (no real weather data set ships with the project).

Figures (reports/metrics.json), for each aggregate series (the SGSC sum, each ETTh1 load channel):
`forecast_real_<series>_<model>_<mape|mae|mae_skill|within_5pct|bias_pct>`, our model's
`..._model_interval_coverage`; MAE skill is against same-time-last-week. The households one by one:
the median over the 50 of each figure (`forecast_real_sgsc_households_...`) and how many households
each model has the lowest MAE of (`..._<model>_best_mae_households`). `forecast_real_aggregates_won_mae`
/ `_won_mape`: aggregate series on which our model beats every peer. The whole table goes to
reports/forecast_real_backtests.md (and a CSV per household), a plot per series to
reports/forecast_real_<series>.png.

`python -m forecast_svc.real_evaluation [--quick] [--ray ADDRESS]` runs only this part. The series'
backtests are independent: with a Ray address (`--ray local` for a head started here, `--ray
HOST:PORT` for a cluster; `METERS_RAY_ADDRESS` for `meters evaluate`) each series is one Ray task
(meters/ray_batch.py), with the same figures; without one they run here one after another."""

import os
import sys
import time
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from forecast_svc import real_backtest as rb  # noqa: E402
from forecast_svc.real_series import RealSeries, etth1_series, sgsc_series  # noqa: E402
from meters.ray_batch import run_batch  # noqa: E402

METRICS = ("mape", "mae", "mae_skill", "within_5pct", "bias_pct")
PREFIX = "forecast_real"


def evaluate(job) -> dict[str, float]:
    return run(Path(job.reports_dir), quick=job.quick, ray_address=os.environ.get("METERS_RAY_ADDRESS") or None)


def backtests(series: list[RealSeries], folds: int, ray_address: str | None = None,
              fold_days: int = rb.FOLD_DAYS) -> list[rb.Result]:
    """Each series' rolling-origin backtest, here or as one Ray task per series, in order."""
    return run_batch(partial(rb.run, folds=folds, fold_days=fold_days), series, ray_address,
                     label="real-series backtests")


def run(reports: Path, quick: bool = False, log=print, ray_address: str | None = None) -> dict[str, float]:
    sgsc = sgsc_series()
    homes = [s for s in sgsc if not s.aggregate]
    aggregates = [sgsc[0], *etth1_series()]
    if quick:
        homes, aggregates = homes[:2], aggregates[:2]
    folds = 2 if quick else rb.FOLDS
    reports.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    figures, rows = {}, []
    for r in backtests(aggregates + homes, folds, ray_address):
        s, fig = r.series, r.figures()
        rows += [{"series": s.name, "aggregate": s.aggregate, "model": m, **v} for m, v in fig.items()]
        _plot(r, reports / f"forecast_real_{s.name}.png")
        log(f"{s.name}: model MAPE {fig['model']['mape']:.2f} %, best peer "
            f"{min(fig[p]['mape'] for p in rb.PEERS):.2f} % ({time.monotonic() - started:.0f} s)")
        if s.aggregate:
            for m, v in fig.items():
                for k in METRICS:
                    figures[f"{PREFIX}_{s.name}_{m}_{k}"] = v[k]
            figures[f"{PREFIX}_{s.name}_model_interval_coverage"] = fig["model"]["interval_coverage"]
    table = pd.DataFrame(rows)
    figures.update(_households(table[~table["aggregate"]]))
    agg = table[table["aggregate"]]
    for k in ("mae", "mape"):
        figures[f"{PREFIX}_aggregates_won_{k}"] = float(sum(_wins(g, k) for _, g in agg.groupby("series")))
    figures[f"{PREFIX}_aggregates"] = float(agg["series"].nunique())
    figures[f"{PREFIX}_run_seconds"] = round(time.monotonic() - started, 1)
    table.to_csv(reports / "forecast_real_backtests.csv", index=False)
    (reports / "forecast_real_backtests.md").write_text(markdown(table, figures))
    return figures


def _wins(g: pd.DataFrame, metric: str) -> bool:
    ours = g.loc[g["model"] == rb.OURS, metric].iloc[0]
    return bool((g.loc[g["model"] != rb.OURS, metric] > ours).all())


def _households(t: pd.DataFrame) -> dict[str, float]:
    out = {}
    if t.empty:
        return out
    for m, g in t.groupby("model"):
        for k in (*METRICS, "interval_coverage"):
            if g[k].notna().any():
                out[f"{PREFIX}_sgsc_households_{m}_{k}"] = float(g[k].median())
    best = t.loc[t.groupby("series")["mae"].idxmin(), "model"].value_counts()
    for m in rb.MODELS:
        out[f"{PREFIX}_sgsc_households_{m}_best_mae_households"] = float(best.get(m, 0))
    out[f"{PREFIX}_sgsc_households"] = float(t["series"].nunique())
    return out


def markdown(table: pd.DataFrame, figures: dict[str, float]) -> str:
    lines = ["| series | model | MAPE % | MAE | MAE skill vs last week | within 5 % | bias % | 90 % interval coverage |",
             "|---|---|---|---|---|---|---|---|"]
    agg = table[table["aggregate"]]
    for name, g in agg.groupby("series", sort=False):
        for _, r in g.iterrows():
            cov = f"{r['interval_coverage']:.3f}" if r["model"] == rb.OURS else ""
            lines.append(f"| {name} | {r['model']} | {r['mape']:.2f} | {r['mae']:.4g} | {r['mae_skill']:.3f} | "
                         f"{r['within_5pct']:.3f} | {r['bias_pct']:+.1f} | {cov} |")
    n = int(figures.get(f"{PREFIX}_sgsc_households", 0))
    if n:
        lines += ["", f"SGSC households one by one ({n}): medians over the households, and how many each model "
                  "has the lowest MAE of.", "",
                  "| model | median MAPE % | median MAE (kWh / 30 min) | median MAE skill | median bias % | "
                  "households best by MAE |",
                  "|---|---|---|---|---|---|"]
        for m in rb.MODELS:
            k = f"{PREFIX}_sgsc_households_{m}"
            lines.append(f"| {m} | {figures[k + '_mape']:.1f} | {figures[k + '_mae']:.4f} | "
                         f"{figures[k + '_mae_skill']:.3f} | {figures[k + '_bias_pct']:+.1f} | "
                         f"{figures[k + '_best_mae_households']:.0f} |")
    won = (figures[f"{PREFIX}_aggregates_won_mape"], figures[f"{PREFIX}_aggregates_won_mae"])
    lines += ["", f"Aggregate series where the model beats every peer: {won[0]:.0f} of "
              f"{figures[f'{PREFIX}_aggregates']:.0f} by MAPE, {won[1]:.0f} by MAE. "
              f"Run: {figures[f'{PREFIX}_run_seconds']:.0f} s.", ""]
    return "\n".join(lines)


def _plot(r: rb.Result, path: Path) -> None:
    f = rb.frame(r)
    last = f.tail(rb.FOLD_DAYS * r.actual.shape[1])  # the last block of origins
    fig, ax = plt.subplots(figsize=(11, 3.5))
    ax.fill_between(last.ds, last.lower, last.upper, color="tab:blue", alpha=0.2, label="90 % interval")
    ax.plot(last.ds, last.actual, color="black", lw=0.8, label="actual")
    ax.plot(last.ds, last.model, color="tab:blue", lw=1, label="model (day-ahead)")
    ax.plot(last.ds, last.mean_4w, color="tab:orange", lw=0.7, label="4-week same-slot mean")
    ax.plot(last.ds, last.lgbm_lags, color="tab:green", lw=0.7, label="LightGBM on lags")
    fig_ = r.figures()
    ax.set_title(f"{r.series.name}: last block of day-ahead origins; MAPE model {fig_['model']['mape']:.1f} %, "
                 f"4-week mean {fig_['mean_4w']['mape']:.1f} %", fontsize=9)
    ax.legend(loc="upper left", fontsize=7, ncol=5)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    from meters.ml_jobs import merge_figures

    out = Path(__file__).resolve().parent.parent / "reports"
    address = sys.argv[sys.argv.index("--ray") + 1] if "--ray" in sys.argv else None
    result = run(out, quick="--quick" in sys.argv, ray_address=address)
    merge_figures(out, result)
    print((out / "forecast_real_backtests.md").read_text())
