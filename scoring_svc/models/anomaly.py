"""AnomalyDetector: the predictor the scoring service (or KServe/BentoML) hosts for meter readings.

    detector = AnomalyDetector.load(registry)            # promoted version, or load(registry, version)
    scores = detector.score(history, new)                # ReadingColumns in, AnomalyScores out

score() takes each meter's recent readings (the last 24 h is enough) and the new ones,
builds the features of anomaly_features, and combines two models:
- an Isolation Forest over the deviation features (unsupervised: catches what is odd
  even if no label ever showed it), and
- a small LSTM over the meter's last 8 readings, trained on the fleet's planted labels,
  which also names the type.
A logistic combiner fitted on a later part of the training span turns both into a
probability; that probability is then mapped piecewise-linearly so the F1-best
threshold found on that same calibration span sits at 0.85, the plan's alert threshold.
Per-type thresholds on the LSTM's probability of one type (chosen on the same span: each where
it raises F1 there, then lowered for a type short of 0.90 recall as far as a false-positive budget
allows; scoring_svc/models/anomaly_training.py) let a type the combined score under-alerts reach 0.85.
"""

from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import torch

from meters.fleet import ANOMALY_NAMES
from meters.model_registry import Manifest, ModelRegistry, ModelVersion
from meters.readings import ReadingColumns
from scoring_svc.models.anomaly_features import (
    ALERT_THRESHOLD, FEATURES, ISOLATION_INDEX, SEQUENCE_STEPS, reading_features, sequence_windows,
    sort_by_meter_time,
)
from scoring_svc.models.isolation import StackedIsolationForest
from scoring_svc.models.lstm import ReadingSequenceClassifier

MODEL_NAME = "anomaly"
CRITICAL_THRESHOLD = 0.95  # plan 7.1: critical at >= 0.95, warning below
N_CLASSES = 7  # fleet codes 0 (normal) .. 6 (reverse_flow); 7 and 8 are absent rows, never scored
TYPE_NAMES = {code: ANOMALY_NAMES[code] for code in range(N_CLASSES)}
SEVERITY_NONE, SEVERITY_WARNING, SEVERITY_CRITICAL = 0, 1, 2

torch.set_num_threads(1)  # one reading per call: one thread is fastest and leaves the other core free


@dataclass(frozen=True)
class AnomalyScores:
    """One row per reading of `new`, in the order given."""

    meter_ids: np.ndarray
    reading_times_unix_s: np.ndarray
    score: np.ndarray  # float64 in [0, 1]
    is_anomaly: np.ndarray  # bool, score >= 0.85
    anomaly_type: np.ndarray  # uint8 fleet code (0 normal, 1 sag ... 6 reverse flow); 0 when not an anomaly
    severity: np.ndarray  # uint8: 0 none, 1 warning, 2 critical

    def __len__(self) -> int:
        return len(self.score)


@dataclass
class Calibration:
    """Logistic combiner of the two model scores plus the threshold mapped to 0.85, and per-type
    thresholds on the LSTM's probability of one type (type code -> probability mapped to 0.85): a
    reading whose type probability reaches its own threshold alerts as that type even where the
    combined probability stays below. All chosen on the calibration span of the training data."""

    coef: np.ndarray  # (3,): bias, weight of LSTM anomaly logit, weight of isolation score
    threshold: float  # combined probability that becomes score 0.85
    type_thresholds: dict[int, float] = field(default_factory=dict)

    def probability(self, lstm_logit: np.ndarray, iso: np.ndarray) -> np.ndarray:
        z = self.coef[0] + self.coef[1] * lstm_logit + self.coef[2] * iso
        return 1.0 / (1.0 + np.exp(-z))

    def score(self, p: np.ndarray) -> np.ndarray:
        return _mapped(p, self.threshold)

    def scores_and_types(self, p: np.ndarray, type_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(score, type code) per row; type_probs is the LSTM's softmax (rows x N_CLASSES)."""
        score = self.score(p)
        kind = (np.argmax(type_probs[:, 1:], axis=1) + 1).astype(np.uint8)
        for code, t in self.type_thresholds.items():
            by_type = _mapped(type_probs[:, code], t)
            alerts = by_type >= ALERT_THRESHOLD
            kind[alerts & (score < ALERT_THRESHOLD)] = code
            # Below the alert threshold the score stays the combined model's.
            score = np.where(alerts, np.maximum(score, by_type), score)
        return score, kind


def _mapped(p: np.ndarray, t: float) -> np.ndarray:
    """Piecewise linear: [0, t) -> [0, 0.85), [t, 1] -> [0.85, 1]."""
    return np.where(p < t, p / max(t, 1e-9) * ALERT_THRESHOLD,
                    ALERT_THRESHOLD + (p - t) / max(1.0 - t, 1e-9) * (1.0 - ALERT_THRESHOLD))


class AnomalyDetector:
    baseline_flag_rate: float | None = None  # share of readings flagged on the calibration span
    def __init__(self, forest: StackedIsolationForest, lstm: ReadingSequenceClassifier,
                 input_mean: np.ndarray, input_scale: np.ndarray, calibration: Calibration,
                 interval_s: int = 900, version: str = ""):
        self.forest = forest
        self.lstm = lstm.eval()
        self.input_mean = input_mean.astype(np.float32)
        self.input_scale = input_scale.astype(np.float32)
        self.calibration = calibration
        self.interval_s = interval_s
        self.version = version

    # -- scoring ---------------------------------------------------------------------------
    def score(self, history: ReadingColumns | None, new: ReadingColumns) -> AnomalyScores:
        """Scores for `new`; `history` holds earlier readings of the same meters (may be None or empty).

        Readings of `history` that repeat a (meter, time) of `new` are ignored.
        """
        n_new = len(new)
        if n_new == 0:
            empty = np.zeros(0)
            return AnomalyScores(new.meter_ids, new.reading_times_unix_s, empty, empty.astype(bool),
                                 empty.astype(np.uint8), empty.astype(np.uint8))
        cols, is_new = _merge(history, new)
        order = sort_by_meter_time(cols)
        cols = cols.take(order)
        new_pos = np.empty(n_new, dtype=np.int64)  # sorted position of each row of `new`
        tag = is_new[order]
        new_pos[tag[tag > 0] - 1] = np.flatnonzero(tag > 0)
        feats = reading_features(cols, self.interval_s)
        return self._score_rows(new, cols.meter_ids, feats, new_pos)

    def score_sorted(self, cols: ReadingColumns, feats: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Batch path for training/evaluation: (score, type) of `rows` of pre-sorted columns and features."""
        score, kind = np.zeros(len(rows)), np.zeros(len(rows), dtype=np.uint8)
        for i in range(0, len(rows), 50_000):  # bounded memory: the forest walk is (trees x rows)
            part = rows[i:i + 50_000]
            out = self._score_rows(cols.take(part), cols.meter_ids, feats, part)
            score[i:i + len(part)], kind[i:i + len(part)] = out.score, out.anomaly_type
        return score, kind

    def _score_rows(self, new: ReadingColumns, meter_ids: np.ndarray, feats: np.ndarray,
                    rows: np.ndarray) -> AnomalyScores:
        iso = self.forest.score(feats[rows][:, ISOLATION_INDEX])
        logits = self.lstm_logits(sequence_windows(meter_ids, feats, rows))
        probs = _softmax(logits)
        p_anom = np.clip(1.0 - probs[:, 0], 1e-7, 1 - 1e-7)
        p = self.calibration.probability(np.log(p_anom / (1 - p_anom)), iso)
        score, kind = self.calibration.scores_and_types(p, probs)
        score = np.clip(score, 0.0, 1.0)
        is_anomaly = score >= ALERT_THRESHOLD
        severity = np.where(score >= CRITICAL_THRESHOLD, SEVERITY_CRITICAL,
                            np.where(is_anomaly, SEVERITY_WARNING, SEVERITY_NONE)).astype(np.uint8)
        return AnomalyScores(new.meter_ids, new.reading_times_unix_s, score, is_anomaly,
                             np.where(is_anomaly, kind, 0).astype(np.uint8), severity)

    def lstm_logits(self, windows: np.ndarray, batch: int = 65_536) -> np.ndarray:
        x = (windows - self.input_mean) / self.input_scale
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), batch):
                out.append(self.lstm(torch.from_numpy(np.ascontiguousarray(x[i:i + batch]))).numpy())
        return np.concatenate(out).astype(np.float64)

    # -- persistence -------------------------------------------------------------------------
    def save(self, registry: ModelRegistry, training_window: dict[str, str], metrics: dict[str, float],
             params: dict) -> ModelVersion:
        with registry.staged(MODEL_NAME) as (version, staging):
            joblib.dump(self.forest.forest, staging / "isolation_forest.joblib")
            torch.save(self.lstm.state_dict(), staging / "lstm_state_dict.pt")
            np.savez(staging / "normalisation.npz", mean=self.input_mean, scale=self.input_scale)
            manifest = Manifest(
                name=MODEL_NAME, version=version, framework="scikit-learn IsolationForest + PyTorch LSTM",
                feature_schema=list(FEATURES), training_window=training_window, metrics=metrics,
                params={**params, "sequence_steps": SEQUENCE_STEPS, "interval_s": self.interval_s,
                        "lstm_hidden": self.lstm.lstm.hidden_size, "n_classes": N_CLASSES,
                        "calibration_coef": [float(c) for c in self.calibration.coef],
                        "calibration_threshold": float(self.calibration.threshold),
                        "type_thresholds": {str(k): float(v) for k, v in self.calibration.type_thresholds.items()},
                        "alert_threshold": ALERT_THRESHOLD, "critical_threshold": CRITICAL_THRESHOLD,
                        "type_names": {str(k): v for k, v in TYPE_NAMES.items()}},
            )
            mv = registry.commit(staging, manifest)
        self.version = version
        return mv

    @classmethod
    def load(cls, registry: ModelRegistry, version: str | None = None) -> "AnomalyDetector":
        mv = registry.promoted(MODEL_NAME) if version is None else registry.get(MODEL_NAME, version)
        return cls.from_dir(mv.path, mv.manifest)

    @classmethod
    def from_dir(cls, path: Path, manifest: Manifest) -> "AnomalyDetector":
        p = manifest.params
        if manifest.feature_schema != FEATURES:
            raise ValueError(f"anomaly model {manifest.version} was trained on other features")
        forest = StackedIsolationForest(joblib.load(path / "isolation_forest.joblib"))
        lstm = ReadingSequenceClassifier(len(FEATURES) + 1, p["n_classes"], p["lstm_hidden"])
        lstm.load_state_dict(torch.load(path / "lstm_state_dict.pt", weights_only=True))
        norm = np.load(path / "normalisation.npz")
        cal = Calibration(np.array(p["calibration_coef"]), p["calibration_threshold"],
                          {int(k): float(v) for k, v in p.get("type_thresholds", {}).items()})
        detector = cls(forest, lstm, norm["mean"], norm["scale"], cal, p["interval_s"], manifest.version)
        detector.baseline_flag_rate = manifest.metrics.get("calibration_flag_rate")  # None: trained before it
        return detector


def _merge(history: ReadingColumns | None, new: ReadingColumns) -> tuple[ReadingColumns, np.ndarray]:
    """history + new, and for each merged row 0 (history) or 1 + its index in `new`."""
    tag_new = np.arange(1, len(new) + 1)
    if history is None or len(history) == 0:
        return new, tag_new
    hk = history.meter_ids.astype(np.int64) * 10_000_000_000 + history.reading_times_unix_s
    nk = new.meter_ids.astype(np.int64) * 10_000_000_000 + new.reading_times_unix_s
    keep = ~np.isin(hk, nk)
    hist = history.take(keep)
    return ReadingColumns.concat([hist, new]), np.r_[np.zeros(len(hist), dtype=np.int64), tag_new]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
