"""Fitting the AnomalyDetector: Isolation Forest, LSTM, then the calibration that ties them.

Rows are split by time by the caller: the forest and the LSTM learn on `fit_rows`, the
combiner and threshold are chosen on `calibration_rows` (later readings of the same
training meters), so the calibration sees scores of readings the models did not fit.
"""

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from torch import nn

from meters.readings import ReadingColumns
from scoring_svc.models.anomaly import N_CLASSES, AnomalyDetector, Calibration, _softmax
from scoring_svc.models.anomaly_features import FEATURES, ISOLATION_INDEX, sequence_windows
from scoring_svc.models.fleet_data import progress_bar
from scoring_svc.models.isolation import StackedIsolationForest
from scoring_svc.models.lstm import ReadingSequenceClassifier

NORMALS_PER_ANOMALY = 6
MAX_LSTM_ROWS = 300_000
MAX_CALIBRATION_NORMALS = 400_000


def fit_anomaly_detector(cols: ReadingColumns, labels: np.ndarray, feats: np.ndarray,
                         fit_rows: np.ndarray, calibration_rows: np.ndarray, seed: int,
                         epochs: int = 6, interval_s: int = 900) -> tuple[AnomalyDetector, dict]:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    # Isolation Forest: unsupervised on a sample of everything (labels unused: ~1 % contamination).
    sample = rng.choice(fit_rows, min(len(fit_rows), 200_000), replace=False)
    forest = IsolationForest(n_estimators=100, max_samples=256, random_state=seed)
    forest.fit(feats[sample][:, ISOLATION_INDEX])

    # LSTM: every planted anomaly of the fit span plus a sample of normal readings.
    y_fit = labels[fit_rows]
    anomalous = fit_rows[y_fit != 0]
    normal = fit_rows[y_fit == 0]
    n_norm = min(len(normal), max(NORMALS_PER_ANOMALY * len(anomalous), 20_000), MAX_LSTM_ROWS - len(anomalous))
    rows = np.concatenate([anomalous, rng.choice(normal, n_norm, replace=False)])
    windows = sequence_windows(cols.meter_ids, feats, rows)
    y = labels[rows].astype(np.int64)
    flat = windows.reshape(-1, windows.shape[2])
    mean, scale = flat.mean(axis=0), np.maximum(flat.std(axis=0), 1e-3)
    lstm = ReadingSequenceClassifier(len(FEATURES) + 1, N_CLASSES)
    _train_lstm(lstm, (windows - mean) / scale, y, epochs, rng)

    detector = AnomalyDetector(StackedIsolationForest(forest), lstm, mean, scale,
                               Calibration(np.array([0.0, 1.0, 0.0]), 0.5), interval_s)
    calibration, report = _calibrate(detector, cols, labels, feats, calibration_rows, rng)
    detector.calibration = calibration
    report.update({"lstm_training_rows": float(len(rows)), "lstm_training_anomalies": float(len(anomalous))})
    return detector, report


def _train_lstm(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, rng: np.random.Generator) -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    batch = 512
    model.train()
    with progress_bar() as bar:
        task = bar.add_task("anomaly LSTM epochs", total=epochs)
        for _ in range(epochs):
            perm = torch.from_numpy(rng.permutation(len(xt)))
            for i in range(0, len(perm), batch):
                idx = perm[i:i + batch]
                opt.zero_grad()
                loss = loss_fn(model(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
            sched.step()
            bar.advance(task)
    model.eval()


def _calibrate(detector: AnomalyDetector, cols: ReadingColumns, labels: np.ndarray, feats: np.ndarray,
               rows: np.ndarray, rng: np.random.Generator) -> tuple[Calibration, dict]:
    """Logistic combiner on (LSTM anomaly logit, isolation score), then the F1-best threshold.

    Normal rows are subsampled and weighted back up, so precision is that of the real mix.
    """
    y = labels[rows] != 0
    normal = rows[~y]
    keep = min(len(normal), MAX_CALIBRATION_NORMALS)
    rows = np.concatenate([rows[y], rng.choice(normal, keep, replace=False)])
    weight = np.r_[np.ones(int(y.sum())), np.full(keep, len(normal) / max(keep, 1))]
    target = labels[rows] != 0
    iso = detector.forest.score(feats[rows][:, ISOLATION_INDEX])
    probs = _softmax(detector.lstm_logits(sequence_windows(cols.meter_ids, feats, rows)))
    p_anom = np.clip(1.0 - probs[:, 0], 1e-7, 1 - 1e-7)
    x = np.column_stack([np.log(p_anom / (1 - p_anom)), iso])
    lr = LogisticRegression(C=10.0, max_iter=1000).fit(x, target, sample_weight=weight)
    coef = np.r_[lr.intercept_, lr.coef_[0]]
    p = Calibration(coef, 0.5).probability(x[:, 0], x[:, 1])
    threshold, f1 = _best_f1_threshold(p, target, weight)
    # The share of readings the model flags on the calibration span (normals weighted back up): the
    # baseline scoring_svc exports beside the live share, for the MetersAnomalyRateDrift rule.
    flag_rate = float((weight * (p >= threshold)).sum() / weight.sum())
    return Calibration(coef, threshold), {"calibration_f1": f1, "calibration_threshold_probability": threshold,
                                          "calibration_flag_rate": flag_rate}


def _best_f1_threshold(p: np.ndarray, target: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    order = np.argsort(-p)
    tp = np.cumsum(target[order] * weight[order])
    fp = np.cumsum(~target[order] * weight[order])
    pos = (target * weight).sum()
    f1 = 2 * tp / (tp + fp + pos)
    best = int(np.argmax(f1))
    # Put the threshold between the last accepted and the next score.
    nxt = p[order][best + 1] if best + 1 < len(order) else 0.0
    return float((p[order][best] + nxt) / 2.0), float(f1[best])
