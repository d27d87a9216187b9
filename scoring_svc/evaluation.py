"""`meters evaluate` for scoring_svc: the promoted models on data they never saw, with plots.

Anomalies: the later third of the anomaly fleet's days, on the meters of the transformers
held out of training (same seed, so the same fleet is regenerated). Failures: a fleet of
another seed (scoring_svc/models/fleets.py), every in-service transformer-hour after its first day.
Figures: anomaly precision/recall/F1 at the 0.85 threshold over present readings (absent rows
cannot be scored). Failures, event-level: an alarm hour is true if its transformer fails within
the next 72 h. failure_precision is per alarm *episode* (alarm hours of one transformer at most
6 h apart = one page to on-call; true if any of its hours is), failure_precision_hourly per alarm
hour; failure_recall = failures with any alarm in their last 72 h, failure_recall_48h = with one
at least 48 h before; lead = failure time - first alarm in that 72 h window (median).
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from meters.ml_jobs import MlJob  # noqa: E402
from scoring_svc.models.anomaly import ALERT_THRESHOLD, TYPE_NAMES, AnomalyDetector  # noqa: E402
from scoring_svc.models.anomaly_features import reading_features  # noqa: E402
from scoring_svc.models.anomaly_real import evaluate_sgsc  # noqa: E402
from scoring_svc.models.failure import FailurePredictor  # noqa: E402
from scoring_svc.models.failure_training import alarm_metrics, labelled_features  # noqa: E402
from scoring_svc.models.fleet_data import Spans, load_fleet, meters_of, rows_in, split_transformers  # noqa: E402
from scoring_svc.models.fleets import anomaly_fleet, failure_fleet  # noqa: E402
from scoring_svc.outages.evaluation import evaluate as evaluate_outages  # noqa: E402
from scoring_svc.revenue_protection.evaluation import evaluate as evaluate_thefts  # noqa: E402
from scoring_svc.thermal.evaluation import evaluate as evaluate_thermal  # noqa: E402


def evaluate(job: MlJob) -> dict[str, float]:
    job.reports_dir.mkdir(parents=True, exist_ok=True)
    # Real data first (issue 15): the transformer thermal forecast on ETTh1 (scoring_svc/thermal, docs/thermal.md).
    # Grid operations (issue 14): outage detection, the reliability indices from its detections, theft suspects.
    return {**evaluate_thermal(job), **evaluate_anomaly(job), **evaluate_failure(job), **evaluate_outages(job),
            **evaluate_thefts(job)}


STUCK_FLOW_A = 0.05  # the features' own "current flows" test (zero_with_flow)


def evaluate_anomaly(job: MlJob) -> dict[str, float]:
    detector = AnomalyDetector.load(job.registry)
    # Real data first (issue 15): alerts a day per 1,000 real SGSC households (scoring_svc/models/anomaly_real.py).
    real = evaluate_sgsc(detector, job.reports_dir, last_days=28 if job.quick else None)
    cfg = anomaly_fleet(job)
    data = load_fleet(cfg, label="anomaly evaluation fleet")
    feats = reading_features(data.readings, cfg.interval_seconds)
    _, held_out_tx = split_transformers(data.topology, cfg.seed)
    sp = Spans.of(cfg)
    rows = rows_in(data.readings, meters_of(data.topology, held_out_tx), sp.evaluate, sp.end)
    score, kind = detector.score_sorted(data.readings, feats, rows)
    truth = data.labels[rows]
    pred, actual = score >= ALERT_THRESHOLD, truth != 0
    tp = int((pred & actual).sum())
    precision = tp / max(int(pred.sum()), 1)
    recall = tp / max(int(actual.sum()), 1)
    normal = ~actual
    # A stuck register reads 0; where the meter's true import was 0 too (solar export hours: current 0 A) the
    # planted reading equals the one a working meter gives, in every column. Recall is also given where current flowed.
    stuck, flow = truth == 5, data.readings.current_a[rows] > STUCK_FLOW_A
    figures = {
        **real,
        "anomaly_false_positive_rate": float((pred & normal).sum() / max(int(normal.sum()), 1)),
        "anomaly_recall_stuck_at_zero_with_flow": float(pred[stuck & flow].mean()) if (stuck & flow).any() else float("nan"),
        "anomaly_stuck_at_zero_without_flow_share": float((stuck & ~flow).sum() / max(int(stuck.sum()), 1)),
        "anomaly_precision": precision,
        "anomaly_recall": recall,
        "anomaly_f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "anomaly_type_accuracy": float((kind[pred & actual] == truth[pred & actual]).mean()) if tp else 0.0,
        "anomaly_evaluated_readings": float(len(rows)),
        "anomaly_evaluated_anomalies": float(actual.sum()),
    }
    for code in range(1, 7):
        m = truth == code
        figures[f"anomaly_recall_{TYPE_NAMES[code]}"] = float(pred[m].mean()) if m.any() else float("nan")
    _plot_anomaly(job, score, truth, np.where(pred, kind, 0))
    return figures


def evaluate_failure(job: MlJob) -> dict[str, float]:
    predictor = FailurePredictor.load(job.registry)
    cfg = failure_fleet(job, evaluation=True)
    data = load_fleet(cfg, keep_readings=False, label="failure evaluation fleet")
    sp = Spans.of(cfg)
    feats = labelled_features(data, predictor.baseline, sp.start, sp.end)
    prob = predictor.probability(feats)
    m = alarm_metrics(feats, prob, predictor.threshold, data.events)
    planted = data.events.loc[data.events["event_type"] == "failure", "lead_hours"].to_numpy()
    _plot_failure(job, prob, feats["label"].to_numpy(), m["leads"], planted)
    return {
        "failure_precision": m["precision"],
        "failure_precision_hourly": m["precision_hourly"],
        "failure_recall": m["recall"],
        "failure_recall_48h": m["recall_48h"],
        "failure_lead_hours_median": m["lead_hours_median"],
        "failure_alarm_episodes": m["episodes"],
        "failure_false_episodes": m["false_episodes"],
        "failure_degradation_precision": m["degradation_precision"],
        "failure_transformer_precision": m["transformer_precision"],
        "failure_evaluated_events": m["events"],
        "failure_threshold": predictor.threshold,
    }


def _plot_anomaly(job: MlJob, score: np.ndarray, truth: np.ndarray, predicted_type: np.ndarray) -> None:
    job.reports_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.linspace(0, 1, 51)
    ax.hist(score[truth == 0], bins=bins, alpha=0.6, label="normal", log=True)
    ax.hist(score[truth != 0], bins=bins, alpha=0.6, label="planted anomaly", log=True)
    ax.axvline(ALERT_THRESHOLD, color="k", ls="--", label="threshold 0.85")
    ax.set(xlabel="anomaly_score", ylabel="readings (log)", title="Anomaly scores on held-out readings")
    ax.legend()
    fig.tight_layout()
    fig.savefig(job.reports_dir / "scoring_anomaly_scores.png", dpi=110)
    plt.close(fig)

    codes = list(range(7))
    cm = np.zeros((7, 7))
    np.add.at(cm, (truth.astype(int), predicted_type.astype(int)), 1)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    names = [TYPE_NAMES[c].replace("_", " ") for c in codes]
    ax.set_xticks(codes, names, rotation=40, ha="right")
    ax.set_yticks(codes, names)
    for i in codes:
        for j in codes:
            if cm[i, j]:
                ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set(xlabel="detected (type)", ylabel="planted", title="Anomaly confusion matrix (held-out)")
    fig.tight_layout()
    fig.savefig(job.reports_dir / "scoring_anomaly_confusion.png", dpi=110)
    plt.close(fig)


def _plot_failure(job: MlJob, prob: np.ndarray, label: np.ndarray, leads: list[float], planted: np.ndarray) -> None:
    """Lead times of the first alarms beside the planted degradations' lengths (onset to failure: the
    earliest a first alarm could come from the fault's own signal), and the probabilities."""
    job.reports_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].hist(leads, bins=np.arange(0, 76, 4), color="tab:orange", label="first alarm")
    axes[0].hist(planted, bins=np.arange(0, 76, 4), histtype="step", color="tab:blue", label="degradation onset")
    axes[0].axvline(48, color="k", ls="--", label="48 h target")
    axes[0].set(xlabel="lead hours (failure - first alarm)", ylabel="failures", title="Failure warning lead time")
    axes[0].legend()
    bins = np.linspace(0, 1, 41)
    axes[1].hist(prob[~label], bins=bins, alpha=0.6, label="no failure within 72 h", log=True)
    axes[1].hist(prob[label], bins=bins, alpha=0.6, label="fails within 72 h", log=True)
    axes[1].set(xlabel="failure probability", ylabel="transformer-hours (log)", title="Failure probabilities")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(job.reports_dir / "scoring_failure_lead_time.png", dpi=110)
    plt.close(fig)
