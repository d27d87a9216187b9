"""Failure training set (hourly transformer features + 72 h labels), XGBoost fit and threshold choice."""

import numpy as np
import pandas as pd
import xgboost as xgb

from scoring_svc.models.failure import HORIZON_H, FailurePredictor
from scoring_svc.models.failure_features import FEATURES, ThermalBaseline, transformer_features
from scoring_svc.models.fleet_data import FleetData, progress_bar

FAILURE = "failure"
XGB_PARAMS = {"max_depth": 4, "eta": 0.05, "subsample": 0.8, "colsample_bytree": 0.8,
              "min_child_weight": 5, "objective": "binary:logistic", "eval_metric": "aucpr", "nthread": 2}
ROUNDS = 300


def labelled_features(data: FleetData, baseline: ThermalBaseline, t0: int, t1: int,
                      transformer_ids: np.ndarray | None = None, step_h: int = 1) -> pd.DataFrame:
    """Features at every `step_h` hour in (t0, t1] (after the first day), in-service rows only,
    with `label` (fails within 72 h) and `event_unix_s` of that failure (or -1)."""
    first = data.cfg.start_unix_s + 86_400
    times = np.arange(max(t0, first) // 3600 * 3600 + 3600, t1 + 1, 3600 * step_h)
    tel = data.telemetry
    if transformer_ids is not None:
        tel = tel[np.isin(tel["transformer_id"], transformer_ids)]
    parts = []
    with progress_bar() as bar:
        task = bar.add_task("transformer features (days)", total=int(np.ceil(len(times) / 24)))
        for i in range(0, len(times), 24):  # a day of prediction times at a time bounds memory
            at = times[i:i + 24]
            window = tel[(tel["hour_end_unix_s"] > at[0] - 8 * 86_400) & (tel["hour_end_unix_s"] <= at[-1])]
            parts.append(transformer_features(window, data.anomaly_counts, at, data.topology.transformers, baseline))
            bar.advance(task)
    feats = pd.concat(parts, ignore_index=True)
    feats = feats[feats["in_service"]].reset_index(drop=True)
    feats["event_unix_s"] = _next_failure(data.events, feats)
    feats["label"] = (feats["event_unix_s"] > 0) & (feats["event_unix_s"] - feats["hour_end_unix_s"] <= HORIZON_H * 3600)
    return feats


def _next_failure(events: pd.DataFrame, feats: pd.DataFrame) -> np.ndarray:
    """For each row, the time of the transformer's next failure after the row's hour (or -1)."""
    out = np.full(len(feats), -1, dtype=np.int64)
    fails = events[events["event_type"] == FAILURE].sort_values("event_unix_s")
    tid, t = feats["transformer_id"].to_numpy(), feats["hour_end_unix_s"].to_numpy()
    for ev in fails.itertuples(index=False):  # loop over failure events (tens), not rows
        hit = (tid == ev.transformer_id) & (t < ev.event_unix_s) & ((out < 0) | (out > ev.event_unix_s))
        out[hit] = ev.event_unix_s
    return out


def fit_booster(feats: pd.DataFrame, seed: int) -> xgb.Booster:
    y = feats["label"].to_numpy()
    pos = max(int(y.sum()), 1)
    params = {**XGB_PARAMS, "seed": seed, "scale_pos_weight": (len(y) - pos) / pos}
    dm = xgb.DMatrix(feats[FEATURES].to_numpy(np.float32), label=y, feature_names=FEATURES)
    return xgb.train(params, dm, ROUNDS)


def alarm_metrics(feats: pd.DataFrame, prob: np.ndarray, threshold: float, events: pd.DataFrame) -> dict[str, float]:
    """Precision per alarm hour; recall and lead per failure event (lead = failure - first alarm in its 72 h)."""
    alarm = prob >= threshold
    y = feats["label"].to_numpy()
    precision = float((alarm & y).sum() / max(alarm.sum(), 1))
    fails = events[events["event_type"] == FAILURE]
    tid, t = feats["transformer_id"].to_numpy(), feats["hour_end_unix_s"].to_numpy()
    leads, eligible = [], 0
    for ev in fails.itertuples(index=False):
        window = (tid == ev.transformer_id) & (t < ev.event_unix_s) & (t >= ev.event_unix_s - HORIZON_H * 3600)
        if window.sum() < HORIZON_H // 2:  # its 72 h lie mostly outside the evaluated span
            continue
        eligible += 1
        hit = window & alarm
        if hit.any():
            leads.append((ev.event_unix_s - t[hit].min()) / 3600.0)
    # Event-level precision: alarm episodes on transformers that then fail / all transformers alarmed.
    alarmed = pd.Series(alarm).groupby(feats["transformer_id"].to_numpy()).any()
    failing = set(fails["transformer_id"])
    alarmed_ids = alarmed[alarmed].index
    in_degradation = np.zeros(len(feats), dtype=bool)
    for ev in events.itertuples(index=False):
        in_degradation |= (tid == ev.transformer_id) & (t > ev.degradation_start_unix_s) & (t <= ev.end_unix_s)
    return {
        "precision": precision,
        # Alarms that fall on any planted degradation, failing or recovering: what the telemetry can tell.
        "degradation_precision": float((alarm & in_degradation).sum() / max(alarm.sum(), 1)),
        "recall": len(leads) / max(eligible, 1),
        "lead_hours_median": float(np.median(leads)) if leads else 0.0,
        "events": float(eligible),
        "alarm_hours": float(alarm.sum()),
        "transformer_precision": float(np.mean([i in failing for i in alarmed_ids])) if len(alarmed_ids) else 0.0,
        "leads": leads,
    }


def choose_threshold(feats: pd.DataFrame, prob: np.ndarray, events: pd.DataFrame,
                     min_precision: float = 0.80, min_recall: float = 0.87) -> tuple[float, dict]:
    """Both targets met: the highest recall. Else recall target met: the best precision. Else the best F1."""
    scored = []
    for thr in np.unique(np.round(np.quantile(prob, np.linspace(0.80, 0.9999, 150)), 4)):
        m = alarm_metrics(feats, prob, float(thr), events)
        f1 = 2 * m["precision"] * m["recall"] / max(m["precision"] + m["recall"], 1e-9)
        scored.append((float(thr), m["precision"], m["recall"], f1))
    both = [s for s in scored if s[1] >= min_precision and s[2] >= min_recall]
    recall_ok = [s for s in scored if s[2] >= min_recall]
    if both:
        thr = max(both, key=lambda s: (s[2], s[1]))[0]
    elif recall_ok:
        thr = max(recall_ok, key=lambda s: (s[1], s[2]))[0]
    else:
        thr = max(scored, key=lambda s: s[3])[0]
    return thr, alarm_metrics(feats, prob, thr, events)


def fit_failure_predictor(data: FleetData, t_fit: int, t_end: int, seed: int) -> tuple[FailurePredictor, dict]:
    """XGBoost on hours up to t_fit; threshold chosen on (t_fit, t_end] of the same training fleet."""
    baseline = ThermalBaseline.fit(data.telemetry[data.telemetry["hour_end_unix_s"] <= t_fit])
    fit = labelled_features(data, baseline, data.cfg.start_unix_s, t_fit)
    booster = fit_booster(fit, seed)
    later = labelled_features(data, baseline, t_fit, t_end)
    predictor = FailurePredictor(booster, baseline, 0.5)
    threshold, m = choose_threshold(later, predictor.probability(later), data.events)
    predictor.threshold = threshold
    report = {"threshold_span_precision": m["precision"], "threshold_span_recall": m["recall"],
              "threshold_span_lead_hours_median": m["lead_hours_median"], "threshold_span_events": m["events"],
              "fit_rows": float(len(fit)), "fit_positive_rows": float(fit["label"].sum())}
    return predictor, report
