"""FailurePredictor: probability that a transformer fails within 72 h, with the features that drove it.

    predictor = FailurePredictor.load(registry)
    feats = transformer_features(telemetry, anomaly_counts, at_time, transformers, predictor.baseline)
    result = predictor.predict(feats)      # probability, alarm, top contributing features

Contributions are XGBoost's own SHAP values (pred_contribs=True), in log-odds: the
features listed are those that pushed this transformer's risk up the most.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from meters.model_registry import Manifest, ModelRegistry, ModelVersion
from scoring_svc.models.failure_features import FEATURES, ThermalBaseline

MODEL_NAME = "failure"
HORIZON_H = 72
TOP_K = 3


@dataclass(frozen=True)
class FailurePredictions:
    transformer_id: np.ndarray
    hour_end_unix_s: np.ndarray
    probability: np.ndarray  # float64 in [0, 1]
    alarm: np.ndarray  # probability >= the threshold chosen on the training span
    top_features: list[list[tuple[str, float]]]  # per row: (feature, log-odds contribution), largest first

    def __len__(self) -> int:
        return len(self.probability)


class FailurePredictor:
    def __init__(self, booster: xgb.Booster, baseline: ThermalBaseline, threshold: float, version: str = ""):
        self.booster = booster
        self.baseline = baseline
        self.threshold = threshold
        self.version = version

    def probability(self, feats: pd.DataFrame) -> np.ndarray:
        return self.booster.predict(xgb.DMatrix(feats[FEATURES].to_numpy(np.float32), feature_names=FEATURES))

    def predict(self, feats: pd.DataFrame, top_k: int = TOP_K) -> FailurePredictions:
        dm = xgb.DMatrix(feats[FEATURES].to_numpy(np.float32), feature_names=FEATURES)
        prob = self.booster.predict(dm)
        contrib = self.booster.predict(dm, pred_contribs=True)[:, :-1]  # last column is the bias
        top = np.argsort(-contrib, axis=1)[:, :top_k]
        tops = [[(FEATURES[j], float(contrib[i, j])) for j in row] for i, row in enumerate(top)]
        return FailurePredictions(feats["transformer_id"].to_numpy(), feats["hour_end_unix_s"].to_numpy(),
                                  prob.astype(np.float64), prob >= self.threshold, tops)

    def save(self, registry: ModelRegistry, training_window: dict[str, str], metrics: dict[str, float],
             params: dict) -> ModelVersion:
        with registry.staged(MODEL_NAME) as (version, staging):
            self.booster.save_model(staging / "xgboost.json")
            manifest = Manifest(
                name=MODEL_NAME, version=version, framework="xgboost", feature_schema=list(FEATURES),
                training_window=training_window, metrics=metrics,
                params={**params, "threshold": float(self.threshold), "horizon_hours": HORIZON_H,
                        "thermal_baseline": self.baseline.to_dict()},
            )
            mv = registry.commit(staging, manifest)
        self.version = version
        return mv

    @classmethod
    def load(cls, registry: ModelRegistry, version: str | None = None) -> "FailurePredictor":
        mv = registry.promoted(MODEL_NAME) if version is None else registry.get(MODEL_NAME, version)
        if mv.manifest.feature_schema != FEATURES:
            raise ValueError(f"failure model {mv.manifest.version} was trained on other features")
        booster = xgb.Booster()
        booster.load_model(mv.file("xgboost.json"))
        p = mv.manifest.params
        return cls(booster, ThermalBaseline.from_dict(p["thermal_baseline"]), p["threshold"], mv.manifest.version)
