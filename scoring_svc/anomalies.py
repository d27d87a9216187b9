"""Anomaly detection on readings: scores, the predictions stored for anomalies, their alerts.

Domain code: no gRPC. The detector is whatever `Models` serves (Isolation Forest + LSTM);
this module adds each meter's recent history, applies the threshold, and turns anomalies
into ml.predictions rows and CreateAlert requests (dedup key `anomaly:<meter>:<type>`).
"""

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np

from meters.alert.v1 import alert_pb2, alert_service_pb2
from meters.readings import ReadingColumns
from meters.scoring.v1.score_pb2 import AnomalyType
from meters.timestamps import from_unix
from scoring_svc.history import MeterHistory
from scoring_svc.metrics import SCORE_SECONDS
from scoring_svc.predictors import Models
from scoring_svc.store import PredictionRow, finite_or_none

CRITICAL_FROM = 0.95
# An anomaly prediction speaks about its reading's interval; it stays "valid" (active in grid
# health) for a day after it.
ANOMALY_VALID_S = 86_400
ANOMALY_NAMES = {v: AnomalyType.Name(v).removeprefix("ANOMALY_TYPE_").lower() for v in AnomalyType.values()}


@dataclass(frozen=True)
class ScoredBatch:
    cols: ReadingColumns
    scores: np.ndarray
    is_anomaly: np.ndarray
    types: np.ndarray  # AnomalyType values
    severities: np.ndarray  # meters.alert.v1.Severity values
    model_version: str

    @property
    def anomaly_count(self) -> int:
        return int(self.is_anomaly.sum())


class AnomalyScorer:
    def __init__(self, models: Models, history: MeterHistory):
        self.models = models
        self.history = history

    def score(self, cols: ReadingColumns, remember: bool = False) -> ScoredBatch:
        """Score readings with their meters' recent history; `remember` adds them to it (the stream does)."""
        detector = self.models.require_anomaly()
        past = self.history.before(cols, detector.history_s) if len(cols) else cols
        started = time.perf_counter()
        result = detector.score(cols, past)
        SCORE_SECONDS.labels("anomaly").observe(time.perf_counter() - started)
        if remember:
            self.history.add(cols)
        scores = np.clip(np.nan_to_num(np.asarray(result.scores, dtype=np.float64)), 0.0, 1.0)
        is_anomaly = scores >= detector.threshold
        types = np.where(is_anomaly, np.asarray(result.types, dtype=np.int64), AnomalyType.ANOMALY_TYPE_UNSPECIFIED)
        types = np.where(is_anomaly & (types == 0), AnomalyType.ANOMALY_TYPE_OTHER, types)
        severities = np.where(~is_anomaly, alert_pb2.SEVERITY_UNSPECIFIED,
                              np.where(scores >= CRITICAL_FROM, alert_pb2.SEVERITY_CRITICAL, alert_pb2.SEVERITY_WARNING))
        return ScoredBatch(cols, scores, is_anomaly, types, severities, detector.version)


def anomaly_predictions(scored: ScoredBatch) -> list[PredictionRow]:
    rows = []
    for i in np.flatnonzero(scored.is_anomaly).tolist():
        c, t = scored.cols, int(scored.cols.reading_times_unix_s[i])
        score = float(scored.scores[i])
        rows.append(PredictionRow(
            asset_type="smart_meter", asset_id=int(c.meter_ids[i]), prediction_type="reading_anomaly",
            probability=score, confidence=max(score, 1.0 - score), at_risk=True, predicted_at=from_unix(t),
            valid_until=from_unix(t + ANOMALY_VALID_S), anomaly_type=ANOMALY_NAMES[int(scored.types[i])],
            severity=alert_pb2.Severity.Name(int(scored.severities[i])).removeprefix("SEVERITY_").lower(),
            details={k: finite_or_none(getattr(c, k)[i]) for k in
                     ("consumption_kwh", "demand_kw", "voltage_v", "current_a", "power_factor")},
            model_version=scored.model_version,
        ))
    return rows



def anomaly_alert(p: PredictionRow) -> tuple[str, bytes]:
    """(dedup_key, CreateAlertRequest bytes) for a stored anomaly prediction."""
    key = f"anomaly:{p.asset_id}:{p.anomaly_type}"
    alert = alert_pb2.Alert(
        title=f"Anomaly detected: {p.anomaly_type}",
        description=f"Anomaly detected on meter {p.asset_id} at {p.predicted_at.isoformat()}: "
                    + ", ".join(f"{k} {v}" for k, v in p.details.items() if v is not None),
        severity=alert_pb2.SEVERITY_CRITICAL if p.severity == "critical" else alert_pb2.SEVERITY_WARNING,
        source=alert_pb2.ALERT_SOURCE_ANOMALY_DETECTION, confidence=p.confidence,
        asset_type=alert_pb2.ASSET_TYPE_SMART_METER, asset_id=p.asset_id, dedup_key=key,
        labels={"anomaly_type": p.anomaly_type, "model_version": p.model_version,
                "prediction": f"predictions/{p.id}"},
    )
    alert.detected_at.FromDatetime(p.predicted_at.astimezone(dt.timezone.utc).replace(tzinfo=None))
    return key, alert_service_pb2.CreateAlertRequest(alert=alert).SerializeToString()
