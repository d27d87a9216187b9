"""Outage detection against the fleet's planted truth (issue 14's Done-when figures).

`evaluate_outage_detection(meters, days, seed, reports_dir)` generates a fleet (topology, planted
outages, the head-end's delivered meter events; no interval data: readings are simulated from
the outages, replay.py), replays it through the detector in time order, matches detections to
truth (matching.py) and returns flat figures: precision and recall of sustained outages, per
level, momentary counts, restoration and start time errors, detection latency, SAIDI and SAIFI
from detections against truth (reliability_comparison, every month of the run), runtime; and
writes outage_detection.png (restoration and start errors, latency). `evaluate(job)` is the
`meters evaluate` hook (MlJob sizes; at least 10,000 meters x 365 days unless job.quick).
"""

import time
from pathlib import Path

import numpy as np
import pandas as pd

from meters.fleet import iter_meter_events, plan_outages
from meters.fleet.config import FleetConfig
from meters.fleet.topology import generate_topology
from scoring_svc.outages.detector import OutageDetector
from scoring_svc.outages.matching import match_outages
from scoring_svc.outages.planned import planned_work_from_truth
from scoring_svc.outages.replay import replay
from scoring_svc.reliability import reliability_comparison, served_from_topology
from scoring_svc.reliability.events import Month

PREFIX = "outage_"


def _quantiles(prefix: str, x: np.ndarray) -> dict[str, float]:
    x = x[np.isfinite(x)]
    if not len(x):
        return {f"{prefix}_median": float("nan"), f"{prefix}_p90": float("nan"), f"{prefix}_max": float("nan")}
    return {f"{prefix}_median": float(np.median(x)), f"{prefix}_p90": float(np.quantile(x, 0.9)),
            f"{prefix}_max": float(x.max())}


def _months(cfg: FleetConfig) -> list[str]:
    first = pd.Timestamp(cfg.start_unix_s, unit="s", tz="UTC").tz_convert(Month.parse("2026-01").tz)
    last = pd.Timestamp(cfg.start_unix_s + cfg.days * 86_400 - 1, unit="s", tz="UTC").tz_convert(first.tz)
    return [p.strftime("%Y-%m") for p in pd.period_range(first.tz_localize(None), last.tz_localize(None), freq="M")]


def reliability_figures(detected, truth, topology, months: list[str]) -> dict[str, float]:
    """SAIDI / SAIFI (total, unplanned, planned) summed over the months, from each, and relative errors."""
    served = served_from_topology(topology.meters, topology.transformers, topology.substations)
    rows = pd.concat([reliability_comparison(detected, truth, served, m).assign(month=m) for m in months])
    total = rows.groupby(["category", "index"])[["detected", "truth"]].sum()
    out: dict[str, float] = {}
    for (cat, idx), r in total.iterrows():
        err = abs(r["detected"] - r["truth"]) / r["truth"] if r["truth"] > 0 else float(r["detected"] != 0)
        out.update({f"{PREFIX}{idx}_{cat}_detected": float(r["detected"]), f"{PREFIX}{idx}_{cat}_truth": float(r["truth"]),
                    f"{PREFIX}{idx}_{cat}_relative_error": float(err)})
    out[f"{PREFIX}reliability_worst_month_relative_error"] = float(rows["relative_error"].max())
    return out


def detection_figures(det: pd.DataFrame, truth: pd.DataFrame, topology) -> tuple[dict[str, float], dict]:
    pairs = match_outages(det, truth, topology)
    d_t = det.loc[pairs["detected"]].reset_index(drop=True)
    t_t = truth.loc[pairs["truth"]].reset_index(drop=True)
    f: dict[str, float] = {}
    sustained_d, sustained_t = ~det["momentary"].astype(bool), ~truth["momentary"].astype(bool)
    matched_d, matched_t = det.index.isin(pairs["detected"]), truth.index.isin(pairs["truth"])
    f[PREFIX + "precision_sustained"] = float(matched_d[sustained_d].mean()) if sustained_d.any() else float("nan")
    f[PREFIX + "recall_sustained"] = float(matched_t[sustained_t].mean()) if sustained_t.any() else float("nan")
    for level in ("feeder", "transformer", "meter"):
        st = sustained_t & (truth["level"] == level)
        sd = sustained_d & (det["level"] == level)
        f[f"{PREFIX}truth_sustained_{level}"] = float(st.sum())
        f[f"{PREFIX}detected_sustained_{level}"] = float(sd.sum())
        f[f"{PREFIX}recall_sustained_{level}"] = float(matched_t[st].mean()) if st.any() else float("nan")
        f[f"{PREFIX}precision_sustained_{level}"] = float(matched_d[sd].mean()) if sd.any() else float("nan")
    f[PREFIX + "level_agreement"] = float((d_t["level"] == t_t["level"]).mean()) if len(pairs) else float("nan")
    f[PREFIX + "truth_momentary"] = float(truth["momentary"].sum())
    f[PREFIX + "detected_momentary"] = float(det["momentary"].sum())
    f[PREFIX + "momentary_matched_and_momentary"] = float((d_t["momentary"] & t_t["momentary"]).sum())
    f[PREFIX + "planned_agreement"] = float((d_t["planned"] == t_t["planned"]).mean()) if len(pairs) else float("nan")
    f[PREFIX + "customers_affected_agreement"] = (float((d_t["customers_affected"] == t_t["customers_affected"]).mean())
                                                  if len(pairs) else float("nan"))
    both = d_t["restored_unix_s"].notna() & t_t["restored_unix_s"].notna()
    restore_err = (d_t["restored_unix_s"] - t_t["restored_unix_s"]).abs()[both].to_numpy(float) / 60
    start_err = (d_t["started_unix_s"] - t_t["started_unix_s"]).abs().to_numpy(float) / 60
    latency = (det["opened_unix_s"] - det["last_gasp_unix_s"]).to_numpy(float)
    area = det["level"].isin(["feeder", "transformer"]).to_numpy()
    f.update(_quantiles(PREFIX + "restoration_error_minutes", restore_err))
    f.update(_quantiles(PREFIX + "start_error_minutes", start_err))
    f.update(_quantiles(PREFIX + "latency_area_seconds", latency[area]))
    f.update(_quantiles(PREFIX + "latency_premise_seconds", latency[~area]))
    f[PREFIX + "restoration_error_within_5min_share"] = float((restore_err < 5).mean()) if len(restore_err) else float("nan")
    return f, {"restore_err": restore_err, "start_err": start_err, "latency": latency[area]}


def _plot(path: Path, series: dict, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (key, label) in zip(axes, [("restore_err", "restoration error (min)"), ("start_err", "start error (min)"),
                                       ("latency", "area outage: last gasp to open (s)")]):
        x = series[key][np.isfinite(series[key])]
        ax.hist(x, bins=40, color="#3b6ea5")
        ax.set_xlabel(label)
        ax.set_ylabel("matched outages" if key != "latency" else "detected outages")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate_outage_detection(meters: int = 10_000, days: int = 365, seed: int = 42,
                              reports_dir: Path | None = None, readings: bool = True) -> dict[str, float]:
    t0 = time.perf_counter()
    cfg = FleetConfig(meters=meters, days=days, seed=seed)
    topology = generate_topology(cfg)
    truth = plan_outages(cfg, topology)
    events = pd.concat(list(iter_meter_events(cfg, topology, outages=truth)), ignore_index=True)
    gen_s = time.perf_counter() - t0
    detector = OutageDetector(topology, planned_work_from_truth(truth), start_unix_s=cfg.start_unix_s)
    timings = replay(cfg, topology, truth, events, detector, readings=readings)
    det = detector.outages()
    figures, series = detection_figures(det, truth, topology)
    figures.update(reliability_figures(det, truth, topology, _months(cfg)))
    figures.update({PREFIX + "fleet_meters": float(meters), PREFIX + "fleet_days": float(days),
                    PREFIX + "events_fed": float(len(events)), PREFIX + "generate_seconds": gen_s,
                    **{PREFIX + k: v for k, v in timings.items()}})
    if reports_dir is not None:
        Path(reports_dir).mkdir(parents=True, exist_ok=True)
        _plot(Path(reports_dir) / "outage_detection.png", series,
              f"Outage detection, {meters:,} meters x {days} days: precision {figures[PREFIX + 'precision_sustained']:.3f}, "
              f"recall {figures[PREFIX + 'recall_sustained']:.3f} (sustained)")
    return figures


def evaluate(job) -> dict[str, float]:
    """`meters evaluate` hook: a year of at least 10,000 meters (job.quick: 1,000 x 30 days)."""
    meters, days = (1_000, 30) if job.quick else (max(job.meters, 10_000), max(job.days, 365))
    return evaluate_outage_detection(meters, days, job.seed, job.reports_dir)
