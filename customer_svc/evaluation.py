"""`meters evaluate` for customer_svc: the promoted segmentation on a held-out fleet.

Held out: another seed (other customers, other weather) than training. Figures:
adjusted Rand index and accuracy against the planted segments, per-segment recall, over
the service's default window (a year); the same model over the plan's 90 days as
`*_90d`; plots: the 12 named segments' mean weekday load profiles, and planted against assigned
segments (a confusion matrix). On the same year, demand response baselines against planted
reductions (dr_evaluation.py). First, on real households: the same model's month-to-month
stability on the SGSC 50 (sgsc_stability.py), where no segment is planted.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from customer_svc import dr_evaluation, sgsc_stability  # noqa: E402
from customer_svc.config import SEGMENTATION_DAYS  # noqa: E402
from customer_svc.features import build_features  # noqa: E402
from customer_svc.fleet_data import load_fleet  # noqa: E402
from customer_svc.model_io import load_promoted  # noqa: E402
from meters.fleet import FleetConfig  # noqa: E402
from meters.ml_jobs import MlJob  # noqa: E402


def score(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    out = {"segmentation_ari": float(adjusted_rand_score(truth, predicted)),
           "segmentation_accuracy": float(np.mean(truth == predicted))}
    for key in np.unique(truth):
        out[f"segmentation_recall_{key}"] = float(np.mean(predicted[truth == key] == key))
    return out


PLAN_WINDOW_DAYS = 90


def evaluate(job: MlJob) -> dict[str, float]:
    model, _version = load_promoted(job.registry)
    meters = 600 if job.quick else job.meters
    figures = sgsc_stability.evaluate(model, job.reports_dir)
    for days, suffix in ((14, ""),) if job.quick else ((SEGMENTATION_DAYS, ""), (PLAN_WINDOW_DAYS, "_90d")):
        fleet = load_fleet(FleetConfig(meters=meters, days=days, seed=job.seed + 1000))
        profiles = fleet.profiles()
        seg, _conf = model.predict(build_features(profiles))
        predicted = np.array(model.segment_keys(), dtype=object)[seg]
        figures.update({f"{k}{suffix}": v for k, v in score(fleet.truth, predicted).items()})
        if not suffix:
            plot_profiles(profiles.kwh, profiles.weekend, predicted, model.segment_keys(),
                          job.reports_dir / "segment_profiles.png")
            plot_confusion(fleet.truth, predicted, model.segment_keys(), job.reports_dir / "segment_confusion.png")
            if not job.quick:  # events need a month of history
                figures.update(dr_evaluation.evaluate(profiles, job.reports_dir / "dr_baseline.png", job.seed))
    return figures


def plot_confusion(truth: np.ndarray, predicted: np.ndarray, keys, path) -> None:
    """Planted segment (rows) against assigned segment (columns), each row as shares of its customers."""
    counts = np.array([[np.sum((truth == t) & (predicted == p)) for p in keys] for t in keys], dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(10, 8.5))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (i, j), n in np.ndenumerate(counts):
        if n:
            ax.text(j, i, int(n), ha="center", va="center", fontsize=7,
                    color="white" if shares[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(keys)), keys, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(keys)), keys, fontsize=8)
    ax.set_xlabel("assigned segment")
    ax.set_ylabel("planted segment")
    save_figure(fig, path)


def plot_profiles(kwh: np.ndarray, weekend: np.ndarray, predicted: np.ndarray, keys, path) -> None:
    wk = np.where(np.broadcast_to(weekend, kwh.shape[:2])[..., None], np.nan, kwh)
    fig, axes = plt.subplots(3, 4, figsize=(16, 9), sharex=True)
    for ax, key in zip(axes.ravel(), keys):
        members = predicted == key
        if members.any():
            ax.plot(range(24), np.nanmean(wk[members], axis=(0, 1)), color="tab:blue")
        ax.set_title(f"{key} ({members.sum()})", fontsize=9)
        ax.set_xticks([0, 6, 12, 18, 23])
    fig.supxlabel("local hour (weekdays)")
    fig.supylabel("mean kWh per hour")
    save_figure(fig, path)


def save_figure(fig, path) -> None:
    """Lay out, write (creating the folder) and close a finished figure."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
