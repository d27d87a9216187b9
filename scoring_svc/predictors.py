"""What the scoring service needs from a model, and the set of models it currently serves.

The models themselves (scoring_svc/models/, trained by scoring_svc/training.py) are loaded
from the registry's promoted versions through `load_anomaly`/`load_failure`; everything
else in the service sees only the two small protocols below. No model promoted is not a
start-up failure: the service serves, and scoring calls answer FAILED_PRECONDITION
(reason NO_PROMOTED_MODEL) until `meters train` has promoted one and ReloadModels or
SIGHUP picks it up.
"""

import logging
from dataclasses import dataclass
from typing import Protocol, Sequence

import grpc
import numpy as np
import pandas as pd

from meters.errors import DomainError
from meters.model_registry import ModelNotFound, ModelRegistry
from meters.readings import ReadingColumns

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

    def score(self, readings: ReadingColumns, history: ReadingColumns) -> AnomalyScores:
        """Score `readings`; `history` holds earlier readings of the same meters (any order)."""


@dataclass(frozen=True)
class FailureRisk:
    probability: float
    top_features: list[tuple[str, float, float]]  # (name, value, contribution), largest |contribution| first


class FailurePredictor(Protocol):
    version: str
    threshold: float  # probabilities at or above are at risk (0.85 in the plan)
    horizon_h: float  # how far ahead the prediction reaches
    feature_names: Sequence[str]

    def predict(self, features: pd.DataFrame, top: int) -> list[FailureRisk]:
        """One risk per row of `features` (columns: feature_names)."""


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

    def score(self, readings: ReadingColumns, history: ReadingColumns) -> AnomalyScores:
        if not len(history):
            out = self._detector.score(None, readings)
            return AnomalyScores(out.score, out.anomaly_type.astype(np.int64))
        # Workaround: AnomalyDetector.score(history, new) mis-indexes when history is not empty
        # (new_pos[is_new[order] - 1] also takes the history rows); score history + new as `new`
        # and keep the last len(readings) rows until that is fixed.
        out = self._detector.score(None, ReadingColumns.concat([history, readings]))
        return AnomalyScores(out.score[len(history):], out.anomaly_type[len(history):].astype(np.int64))


def load_failure(registry: ModelRegistry) -> FailurePredictor:
    from scoring_svc.models import failure
    return failure.FailurePredictor.load(registry)


class Models:
    """The models being served; swapped whole on reload so a call never sees half of a reload."""

    def __init__(self, registry: ModelRegistry):
        self._registry = registry
        self.anomaly: AnomalyDetector | None = None
        self.failure: FailurePredictor | None = None

    def reload(self) -> None:
        self.anomaly = self._load(load_anomaly, ANOMALY_MODEL)
        self.failure = self._load(load_failure, FAILURE_MODEL)

    def _load(self, loader, name: str):
        try:
            model = loader(self._registry)
        except (ModelNotFound, ImportError) as err:
            log.warning("no %s model served: %s", name, err)
            return None
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
