"""What the scoring service needs from a model, and the set of models it currently serves.

The models themselves (scoring_svc/models/, trained by scoring_svc/training.py) are loaded
from the registry's promoted versions through `load_anomaly`/`load_failure`; everything
else in the service sees only the two small protocols below. No model promoted is not a
start-up failure: the service serves, and scoring calls answer FAILED_PRECONDITION
(reason NO_PROMOTED_MODEL) until `meters train` has promoted one and ReloadModels or
SIGHUP picks it up.
"""

import gc
import logging
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import grpc
import numpy as np
import pandas as pd

from meters.errors import DomainError
from meters.model_registry import ModelNotFound, ModelRegistry
from meters.readings import ReadingColumns
from scoring_svc.config import ScoringSettings
from scoring_svc.metrics import set_anomaly_baseline

log = logging.getLogger(__name__)
ANOMALY_MODEL = "anomaly"
FAILURE_MODEL = "failure"


@dataclass(frozen=True)
class AnomalyScores:
    scores: np.ndarray  # float64 in [0, 1], one per reading
    types: np.ndarray  # int, meters.scoring.v1.AnomalyType per reading (0 where not anomalous)


class AnomalyDetector(Protocol):
    version: str
    threshold: float  # scores at or above are anomalies
    history_s: int  # how much of each meter's past the detector wants with a reading
    baseline_flag_rate: float | None  # share of readings flagged on its calibration data; None: unknown

    def score(self, readings: ReadingColumns, history: ReadingColumns) -> AnomalyScores:
        """Score `readings`; `history` holds earlier readings of the same meters (any order)."""


@dataclass(frozen=True)
class FailureRisk:
    probability: float
    alarm: bool  # at or above the model's own threshold
    top_features: list[tuple[str, float, float]]  # (name, value, contribution), largest contribution first


@dataclass(frozen=True)
class TransformerInputs:
    """What the failure model needs of one transformer, as transformer_features takes it."""

    telemetry: pd.DataFrame  # hourly: transformer_id, hour_end_unix_s, load_kva, peak_load_kva, load_utilization,
    #                          ambient_temp_c, oil_temp_c, winding_temp_c, efficiency, in_service
    anomaly_counts: pd.DataFrame  # transformer_id, hour_end_unix_s, anomaly_count
    transformer: pd.DataFrame  # one row: transformer_id, capacity_kva, age_years, last_maintenance_unix_s
    at_unix_s: int


class FailurePredictor(Protocol):
    version: str
    threshold: float  # probabilities at or above are at risk
    horizon_h: float  # how far ahead the prediction reaches
    lookback_h: int  # telemetry hours the features need before the prediction time

    def predict(self, inputs: TransformerInputs, top: int) -> FailureRisk:
        """The risk of one transformer at inputs.at_unix_s."""


def no_model(name: str) -> DomainError:
    return DomainError(
        grpc.StatusCode.FAILED_PRECONDITION, "NO_PROMOTED_MODEL",
        f"no promoted {name} model; run `meters train` (then ReloadModels or SIGHUP)", metadata={"model": name},
    )


def load_anomaly(registry: ModelRegistry) -> AnomalyDetector:
    # Imported late: torch is heavy, and the service must start without models.
    from scoring_svc.models.anomaly import ALERT_THRESHOLD, AnomalyDetector as Detector
    from scoring_svc.models.anomaly_features import HISTORY_S
    return _Anomaly(Detector.load(registry), ALERT_THRESHOLD, HISTORY_S)


class _Anomaly:
    """scoring_svc.models.anomaly.AnomalyDetector seen through the protocol (its fleet anomaly
    codes 1-6 are the AnomalyType values 1-6)."""

    def __init__(self, detector, threshold: float, history_s: int):
        self._detector = detector
        self.version = detector.version
        self.threshold = threshold
        self.history_s = history_s
        self.baseline_flag_rate = getattr(detector, "baseline_flag_rate", None)

    def score(self, readings: ReadingColumns, history: ReadingColumns) -> AnomalyScores:
        out = self._detector.score(history if len(history) else None, readings)
        return AnomalyScores(out.score, out.anomaly_type.astype(np.int64))


def load_failure(registry: ModelRegistry) -> FailurePredictor:
    from scoring_svc.models.failure import FailurePredictor as Predictor
    return _Failure(Predictor.load(registry))


class _Failure:
    """scoring_svc.models.failure.FailurePredictor over the features training uses (transformer_features)."""

    def __init__(self, predictor):
        from scoring_svc.models.failure import HORIZON_H
        from scoring_svc.models.failure_features import WEEK_H, transformer_features
        self._predictor = predictor
        self._features = transformer_features
        self.version = predictor.version
        self.threshold = float(predictor.threshold)
        self.horizon_h = float(HORIZON_H)
        self.lookback_h = WEEK_H + 24

    def predict(self, inputs: TransformerInputs, top: int) -> FailureRisk:
        feats = self._features(inputs.telemetry, inputs.anomaly_counts, [inputs.at_unix_s], inputs.transformer,
                               self._predictor.baseline)
        out = self._predictor.predict(feats, top_k=top)
        row = feats.iloc[0]
        return FailureRisk(float(out.probability[0]), bool(out.alarm[0]),
                           [(name, float(row[name]), c) for name, c in out.top_features[0]])


class Models:
    """The models being served; swapped whole on reload so a call never sees half of a reload.

    A model whose predictor URL is set (METERS_ANOMALY_PREDICTOR_URL, METERS_FAILURE_PREDICTOR_URL in
    `settings`) is a client of that KServe V2 endpoint
    (scoring_svc/remote_predictors.py) instead of the registry's artifact loaded here."""

    def __init__(self, registry: ModelRegistry, settings: ScoringSettings):
        self._registry = registry
        self._loaders = {ANOMALY_MODEL: load_anomaly, FAILURE_MODEL: load_failure}
        self.remote: set[str] = set()  # models served over the network: callers keep them off the event loop
        for name, url in ((ANOMALY_MODEL, settings.anomaly_predictor_url), (FAILURE_MODEL, settings.failure_predictor_url)):
            if url:
                from scoring_svc import remote_predictors
                remote = getattr(remote_predictors, f"load_{name}")
                self._loaders[name] = partial(remote, url, timeout_s=settings.predictor_timeout_s)
                self.remote.add(name)
                log.info("remote predictor", extra={"fields": {"model": name, "url": url}})
        self.anomaly: AnomalyDetector | None = None
        self.failure: FailurePredictor | None = None

    def reload(self) -> None:
        self.serve(*self.load_promoted())

    def load_promoted(self) -> tuple:
        """The promoted (anomaly, failure) models, loaded but not yet served (ReloadModels records the
        swap in the audit trail before making it)."""
        return (self._load(self._loaders[ANOMALY_MODEL], ANOMALY_MODEL, self.anomaly),
                self._load(self._loaders[FAILURE_MODEL], FAILURE_MODEL, self.failure))

    @staticmethod
    def versions(anomaly, failure) -> dict[str, str]:
        return {ANOMALY_MODEL: anomaly.version if anomaly else "", FAILURE_MODEL: failure.version if failure else ""}

    def serve(self, anomaly, failure) -> None:
        self.anomaly, self.failure = anomaly, failure
        set_anomaly_baseline(anomaly.version if anomaly else "", getattr(anomaly, "baseline_flag_rate", None))
        # The models (torch, scikit-learn, xgboost) are ~300k long-lived objects: a full collection walked
        # them in 0.7 s, the tail of scoring latency. Freeze them out of every later collection.
        gc.collect()
        gc.freeze()

    def _load(self, loader, name: str, serving):
        """The promoted version; None if none is promoted; the one `serving` if the promoted one is unusable."""
        try:
            model = loader(self._registry)
        except (ModelNotFound, ImportError) as err:
            log.warning("no %s model served: %s", name, err)
            return None
        except Exception as err:  # noqa: BLE001 - a broken artifact must not take the service down
            log.error("promoted %s model not loaded; still serving %s", name,
                      serving.version if serving else "none", exc_info=err)
            return serving
        log.info("loaded model", extra={"fields": {"model": name, "version": model.version}})
        return model

    def require_anomaly(self) -> AnomalyDetector:
        if self.anomaly is None:
            raise no_model(ANOMALY_MODEL)
        return self.anomaly

    def require_failure(self) -> FailurePredictor:
        if self.failure is None:
            raise no_model(FAILURE_MODEL)
        return self.failure
