"""Example inputs for the served models, cut from small synthetic fleets (the generator `meters train`
learns from, with another seed): the model-serving tests and bench/serving.py send these.

    python -m model_serving.samples anomaly|failure   # print a V2 request body (a few rows)
"""

import contextlib
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from meters.fleet import FleetConfig
from meters.ml_jobs import MlJob
from meters.model_registry import DEFAULT_ROOT, ModelNotFound, ModelRegistry
from meters.readings import ReadingColumns
from model_serving.columns import ANOMALY_INPUTS, FAILURE_INPUTS, HISTORY_PREFIX, READING_INPUTS, v2_request
from scoring_svc.models.anomaly_features import HISTORY_S
from scoring_svc.models.failure import FailurePredictor
from scoring_svc.models.failure_features import transformer_features
from scoring_svc.models.fleet_data import load_fleet
from scoring_svc.models.fleets import failure_fleet

SEED = 4242  # a fleet no model was trained on


def readings(count: int = 8, meters: int = 200) -> tuple[ReadingColumns, ReadingColumns]:
    """(history, new): `count` readings of different meters, half of them planted anomalies where
    the fleet has enough, and each meter's readings of the 24 h before its new one."""
    data = load_fleet(FleetConfig(meters=meters, days=2, seed=SEED), label="sample fleet")
    r, labels = data.readings, data.labels
    last_day = (r.reading_times_unix_s > r.reading_times_unix_s.max() - HISTORY_S // 2) & np.isfinite(r.voltage_v)
    anomalous = _one_per_meter(r.meter_ids, last_day & (labels > 0))[:count // 2]
    normal = _one_per_meter(r.meter_ids, last_day & (labels == 0) & ~np.isin(r.meter_ids, r.meter_ids[anomalous]))
    rows = np.r_[anomalous, normal[:count - len(anomalous)]]
    new = r.take(rows)
    keep = np.zeros(len(r), dtype=bool)
    for meter, t in zip(new.meter_ids, new.reading_times_unix_s):
        keep |= (r.meter_ids == meter) & (r.reading_times_unix_s < t) & (r.reading_times_unix_s >= t - HISTORY_S)
    return r.take(keep), new


def _one_per_meter(meter_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(mask)
    _, first = np.unique(meter_ids[rows], return_index=True)
    return rows[np.sort(first)]


def reading_columns(history: ReadingColumns | None, new: ReadingColumns) -> dict[str, np.ndarray]:
    """The anomaly model's input columns for these readings (names of model_serving.columns)."""
    out = {t.name: getattr(new, t.name) for t in READING_INPUTS}
    if history is not None:
        out.update({HISTORY_PREFIX + t.name: getattr(history, t.name) for t in READING_INPUTS})
    return out


def failure_features(registry: ModelRegistry, transformers: int = 0) -> pd.DataFrame:
    """Feature rows (transformer_id, hour_end_unix_s, FEATURES) of a small failure fleet's
    transformers, built as the scoring service builds them with the promoted predictor's thermal
    baseline: at the fleet's last hour and 6 h before each planted failure (where alarms are
    expected). `transformers` > 0 keeps that many transformers."""
    cfg = dataclasses.replace(failure_fleet(MlJob(registry, Path("."), quick=True)), seed=SEED, meters=1000)
    data = load_fleet(cfg, keep_readings=False, label="sample failure fleet")
    baseline = FailurePredictor.load(registry).baseline
    failures = data.events.loc[data.events["event_type"] == "failure", "event_unix_s"].to_numpy()
    at = [int(data.telemetry["hour_end_unix_s"].max())] + [int(t) - 6 * 3600 for t in failures]
    feats = transformer_features(data.telemetry, data.anomaly_counts, at, data.topology.transformers, baseline)
    if transformers:
        feats = feats[feats["transformer_id"].isin(feats["transformer_id"].unique()[:transformers])]
    return feats[[t.name for t in FAILURE_INPUTS]].reset_index(drop=True)


def promoted_or_quick(quick_root: Path) -> ModelRegistry:
    """The registry (METERS_MODEL_REGISTRY, else ./models) when it has promoted anomaly and failure
    models; else quick ones under `quick_root`, trained there unless an earlier call did."""
    for registry in (ModelRegistry(DEFAULT_ROOT), ModelRegistry(quick_root / "registry")):
        try:
            registry.promoted("anomaly"), registry.promoted("failure")
            return registry
        except ModelNotFound:
            continue
    print(f"no promoted anomaly and failure models in {DEFAULT_ROOT}: training quick ones into {quick_root} "
          "(`make evaluate` trains the real ones)", file=sys.stderr, flush=True)
    with contextlib.redirect_stdout(sys.stderr):  # the fleet's progress bars
        return quick_registry(quick_root)


def quick_registry(root: Path) -> ModelRegistry:
    """A registry under `root` with quick anomaly and failure models trained and promoted (~10 s)."""
    from scoring_svc import training
    registry = ModelRegistry(root / "registry")
    training.train(MlJob(registry, root / "reports", quick=True))
    return registry


def main(which: str) -> None:
    with contextlib.redirect_stdout(sys.stderr):  # the fleet's progress bars; stdout is the request
        if which == "anomaly":
            history, new = readings(count=2)
            columns, spec = reading_columns(history, new), ANOMALY_INPUTS
        else:
            feats = failure_features(ModelRegistry(DEFAULT_ROOT), transformers=1)
            columns, spec = {c: feats[c].to_numpy() for c in feats.columns}, FAILURE_INPUTS
    print(json.dumps(v2_request(columns, spec)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "anomaly")
