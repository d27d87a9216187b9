"""Day-ahead accuracy by aggregation size: where the plan's "96 % within 5 %" holds.

The served scale's backtests already cover every rung the network has: sampled transformers
(~30 meters), sampled zone substations (~3,000), the five regions (~5,000 to ~50,000) and the
network (150,000); the job's small fleet is a 3,000-meter network with its own model. This module
only puts them side by side: each rung's meter count from the fleet's topology, its share of
steps within 5 % and MAPE beside the same-time-last-week peer's, and a plot against size.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from forecast_svc.data import _meter_regions, _scope_sample  # noqa: E402
from meters.fleet import FleetConfig, generate_topology  # noqa: E402
from meters.regions import REGIONS  # noqa: E402

PLAN_WITHIN_5PCT = 0.96


def rungs(cfg: FleetConfig) -> dict[str, float]:
    """Figure prefix -> meters in that aggregate (the mean over a sampled kind)."""
    topo = generate_topology(cfg)
    _sample, meter_sample = _scope_sample(topo)
    out = {}
    for prefix, of in (("forecast_substation", meter_sample[0]), ("forecast_transformer", meter_sample[1])):
        counts = np.bincount(of[of >= 0])
        out[prefix] = float(counts[counts > 0].mean())
    per_region = np.bincount(_meter_regions(topo)[topo.meters["meter_id"].to_numpy()], minlength=len(REGIONS))
    out.update({f"forecast_{r.lower()}": float(n) for r, n in zip(REGIONS, per_region)})
    out["forecast"] = float(cfg.meters)
    return out


def evaluate(figures: dict[str, float], cfg: FleetConfig, small_meters: int | None,
             reports_dir: Path | None) -> dict[str, float]:
    """`<prefix>_meters` for every sampled kind and region found in `figures`, and
    reports/forecast_by_size.png with the network and the small fleet too."""
    sizes = rungs(cfg)
    rows = [(n, p, "") for p, n in sizes.items() if f"{p}_within_5pct" in figures]
    if small_meters and "forecast_within_5pct_small" in figures:
        rows.append((float(small_meters), "forecast", "_small"))
    out = {f"{p}_meters": n for n, p, _ in rows if p != "forecast"}  # the network's: forecast_eval_meters
    if reports_dir is not None and rows:
        _plot(Path(reports_dir) / "forecast_by_size.png", sorted(rows), figures)
    return out


def _plot(path: Path, rows: list[tuple[float, str, str]], figures: dict[str, float]) -> None:
    n = [r[0] for r in rows]
    within = [figures[f"{p}_within_5pct{t}"] for _, p, t in rows]
    mape = [figures[f"{p}_mape{t}"] for _, p, t in rows]
    naive = [figures[f"{p}_naive_mape{t}"] for _, p, t in rows]
    labels = [(p.removeprefix("forecast_") if p != "forecast" else "network") + (" (own model)" if t else "")
              for _, p, t in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    axes[0].semilogx(n, within, "o", color="tab:blue")
    axes[0].axhline(PLAN_WITHIN_5PCT, color="tab:red", ls="--", lw=1, label="plan: 96 % of steps within 5 %")
    axes[0].set(xlabel="meters in the aggregate", ylabel="share of day-ahead steps within 5 %", ylim=(0, 1.02))
    for x, y, label in zip(n, within, labels):
        axes[0].annotate(label, (x, y), fontsize=7, xytext=(4, -10), textcoords="offset points")
    axes[0].legend(fontsize=8, loc="lower right")
    axes[1].loglog(n, mape, "o", color="tab:blue", label="ours")
    axes[1].loglog(n, naive, "x", color="tab:orange", label="same time last week")
    axes[1].set(xlabel="meters in the aggregate", ylabel="MAPE %")
    axes[1].legend(fontsize=8)
    fig.suptitle("Held-out day-ahead forecasts by aggregation size (synthetic fleet)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
