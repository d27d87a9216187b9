"""Theft suspects against the fleet's planted thefts (issue 14's Done-when figures).

`evaluate_theft_detection(meters, days, seed, reports_dir)` generates a fleet with signed net
flow (an energy balance needs the export register too, as NEM12's B1 channel gives it), plants
thefts (meters/fleet/theft.py), streams it once into hourly aggregates (fleet_data.py), fits each
transformer's loss model on the first LOSS_FIT_SHARE of the run (thefts start after 15 %), ranks
every meter (suspects.py) with the head-end's tamper / cover-open events (field work's included)
and returns flat figures: precision and recall in the top 1 % of meters (all thefts; bypasses of
at least 15 % of the load, the goal), the same for the naive consumption-drop rule, precision at
k = planted thefts, the suspected start's error and the unmetered share's error. theft_detection.png:
recall against the share of meters investigated, for both, and the planted share against the
estimate. `evaluate(job)`: the `meters evaluate` hook (a year of at least 10,000 meters).
"""

import time
from pathlib import Path

import numpy as np
import pandas as pd

from meters.fleet import iter_meter_events, plan_thefts
from meters.fleet.config import FleetConfig
from meters.fleet.meter_events import COVER_OPEN, TAMPER
from meters.fleet.topology import generate_topology
from scoring_svc.revenue_protection import inputs
from scoring_svc.revenue_protection.energy_balance import DAY_S
from scoring_svc.revenue_protection.fleet_data import FleetAggregates, aggregate_fleet
from scoring_svc.revenue_protection.suspects import SuspectInputs, consumption_drop_baseline, rank_suspects

PREFIX = "theft_"
TOP_SHARE = 0.01
GOAL_BYPASS_SHARE = 0.15


def tamper_days(cfg: FleetConfig, topology, thefts: pd.DataFrame) -> dict[int, np.ndarray]:
    """Meter row -> days (from the run's start) of its delivered TAMPER / COVER_OPEN events."""
    frames = [e[e["type"].isin([COVER_OPEN, TAMPER])] for e in iter_meter_events(cfg, topology, thefts=thefts)]
    ev = pd.concat(frames, ignore_index=True)
    day = (ev["event_time_unix_ms"] // 1000 - cfg.start_unix_s) // DAY_S
    return {int(m) - 1: g.to_numpy() for m, g in day.groupby(ev["meter_id"])}


def suspect_inputs(cfg: FleetConfig, agg: FleetAggregates, tamper: dict[int, np.ndarray] | None,
                   solar_registered: np.ndarray | None = None) -> SuspectInputs:
    return inputs.suspect_inputs(agg.meter_ids, agg.transformer_ids, agg.hourly_kwh, agg.transformer_hours,
                                 cfg.start_unix_s, cfg.days, agg.interval_std_kwh, tamper, solar_registered)


def _hits(ranked_ids: np.ndarray, truth: set) -> np.ndarray:
    return np.fromiter((m in truth for m in ranked_ids), bool, len(ranked_ids))


def ranking_figures(name: str, ranked_ids: np.ndarray, thefts: pd.DataFrame, n_meters: int) -> dict[str, float]:
    k = max(1, int(round(TOP_SHARE * n_meters)))
    every = set(thefts["meter_id"])
    goal = set(thefts.loc[(thefts["kind"] == "bypass") & (thefts["unmetered_share"] >= GOAL_BYPASS_SHARE), "meter_id"])
    top = set(ranked_ids[:k])
    at_planted = set(ranked_ids[:len(every)])
    return {
        f"{PREFIX}{name}top1pct_precision": len(top & every) / k,
        f"{PREFIX}{name}top1pct_recall": len(top & every) / len(every) if every else float("nan"),
        f"{PREFIX}{name}top1pct_recall_bypass_15pct": len(top & goal) / len(goal) if goal else float("nan"),
        f"{PREFIX}{name}precision_at_planted": len(at_planted & every) / len(every) if every else float("nan"),
    }


def estimate_figures(ranked: pd.DataFrame, thefts: pd.DataFrame, cfg: FleetConfig) -> dict[str, float]:
    """For the planted bypasses: suspected start and unmetered share against the truth."""
    b = thefts[thefts["kind"] == "bypass"].merge(ranked, on="meter_id", suffixes=("_truth", ""))
    true_day = (b["started_unix_s"] - cfg.start_unix_s) // DAY_S
    start_err = (b["start_day"] - true_day).abs().to_numpy(float)
    share_err = (b["unmetered_share"] - b["unmetered_share_truth"]).abs().to_numpy(float)
    return {PREFIX + "start_error_days_median": float(np.median(start_err)) if len(b) else float("nan"),
            PREFIX + "start_within_7_days_share": float((start_err <= 7).mean()) if len(b) else float("nan"),
            PREFIX + "unmetered_share_error_median": float(np.median(share_err)) if len(b) else float("nan")}


def _plot(path: Path, ranked: pd.DataFrame, baseline: pd.DataFrame, thefts: pd.DataFrame, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    every = set(thefts["meter_id"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    n = len(ranked)
    for frame, label, colour in [(ranked, "energy balance + tamper", "#3b6ea5"),
                                 (baseline, "naive: consumption drop", "#c0504d")]:
        hits = np.cumsum(_hits(frame["meter_id"].to_numpy(), every)) / max(len(every), 1)
        axes[0].plot(100 * np.arange(1, n + 1) / n, hits, label=label, color=colour)
    axes[0].axvline(100 * TOP_SHARE, color="#888", ls="--", lw=1)
    axes[0].set(xscale="log", xlabel="meters investigated (%, most suspect first)", ylabel="planted thefts found",
                ylim=(0, 1.02))
    axes[0].legend(loc="upper left")
    b = thefts[thefts["kind"] == "bypass"].merge(ranked, on="meter_id", suffixes=("_truth", ""))
    axes[1].scatter(b["unmetered_share_truth"], b["unmetered_share"], s=14, color="#3b6ea5")
    axes[1].plot([0, 1], [0, 1], color="#888", lw=1)
    axes[1].set(xlabel="planted unmetered share (bypasses)", ylabel="estimated", xlim=(0, 1), ylim=(0, 1))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate_theft_detection(meters: int = 10_000, days: int = 365, seed: int = 42,
                             reports_dir: Path | None = None) -> dict[str, float]:
    t0 = time.perf_counter()
    cfg = FleetConfig(meters=meters, days=days, seed=seed, interval_minutes=30, signed_net_flow=True)
    topology = generate_topology(cfg)
    thefts = plan_thefts(cfg, topology)
    agg = aggregate_fleet(cfg, topology, thefts=thefts)
    tamper = tamper_days(cfg, topology, thefts)
    gen_s = time.perf_counter() - t0
    solar = topology.meter_parameters["solar_kw"].to_numpy() > 0  # as the customer register has it
    ranked = rank_suspects(suspect_inputs(cfg, agg, tamper, solar))
    rank_s = time.perf_counter() - t0 - gen_s
    baseline = consumption_drop_baseline(agg.kwh, agg.meter_ids)
    figures = {**ranking_figures("", ranked["meter_id"].to_numpy(), thefts, meters),
               **ranking_figures("baseline_", baseline["meter_id"].to_numpy(), thefts, meters),
               **estimate_figures(ranked, thefts, cfg),
               PREFIX + "planted": float(len(thefts)),
               PREFIX + "planted_bypass_15pct": float(((thefts["kind"] == "bypass")
                                                       & (thefts["unmetered_share"] >= GOAL_BYPASS_SHARE)).sum()),
               PREFIX + "fleet_meters": float(meters), PREFIX + "fleet_days": float(days),
               PREFIX + "generate_seconds": gen_s, PREFIX + "rank_seconds": rank_s}
    if reports_dir is not None:
        Path(reports_dir).mkdir(parents=True, exist_ok=True)
        _plot(Path(reports_dir) / "theft_detection.png", ranked, baseline, thefts,
              f"Theft suspects, {meters:,} meters x {days} days: top-1 % recall of bypasses >= 15 % "
              f"{figures[PREFIX + 'top1pct_recall_bypass_15pct']:.2f} "
              f"(naive {figures[PREFIX + 'baseline_top1pct_recall_bypass_15pct']:.2f})")
    return figures


def evaluate(job) -> dict[str, float]:
    """`meters evaluate` hook: a year of at least 10,000 meters (job.quick: 2,000 x 120 days)."""
    meters, days = (2_000, 120) if job.quick else (max(job.meters, 10_000), max(job.days, 365))
    return evaluate_theft_detection(meters, days, job.seed, job.reports_dir)
