"""Transformer failure prediction (plan 7.2, 9.2): the model's inputs from this service's tables,
the promoted failure model, the stored prediction, and the automated response.

The features are the ones training uses (scoring_svc.models.failure_features.transformer_features),
built from the transformer's last 8 days of hourly telemetry and the hourly counts of anomalous
readings on its meters. At or above the model's threshold the transformer goes to
`maintenance_pending` and an alert (dedup key `failure:<transformer>`) is queued, both in the
prediction's transaction.
"""

import asyncio
import datetime as dt
import time

import numpy as np
import pandas as pd

from meters.alert.v1 import alert_pb2, alert_service_pb2
from scoring_svc.metrics import SCORE_SECONDS
from scoring_svc.predictors import Models, TransformerInputs
from scoring_svc.store import PredictionRow, ScoringStore, enqueue_alerts, finite_or_none, upsert_prediction

ANOMALY_LOOKBACK = dt.timedelta(days=7)
COVERAGE_H = 24  # confidence is scaled by the share of the last day's telemetry hours present


async def transformer_inputs(store: ScoringStore, transformer_id: int, as_of: dt.datetime,
                             lookback_h: int) -> TransformerInputs:
    capacity, age, last_maintenance, status = await store.transformer_facts(transformer_id)
    tele = await store.telemetry(transformer_id, as_of - dt.timedelta(hours=lookback_h), as_of)
    tele.insert(0, "transformer_id", transformer_id)
    tele["hour_end_unix_s"] = tele["hour_end_unix_s"].astype(np.int64)
    tele["load_utilization"] = tele["load_kva"] / capacity
    tele["in_service"] = status not in ("failed", "maintenance")
    counts = await store.hourly_anomaly_counts(transformer_id, as_of - ANOMALY_LOOKBACK, as_of)
    facts = pd.DataFrame({"transformer_id": [transformer_id], "capacity_kva": [float(capacity)],
                          "age_years": [float(age)],
                          "last_maintenance_unix_s": [last_maintenance.timestamp() if last_maintenance else np.nan]})
    return TransformerInputs(tele, counts, facts, int(as_of.timestamp()))


class FailurePredictions:
    def __init__(self, store: ScoringStore, models: Models, on_alert=lambda: None):
        self._store = store
        self._models = models
        self._on_alert = on_alert

    async def predict(self, transformer_id: int, as_of: dt.datetime, top: int = 3,
                      raise_alert: bool = True) -> PredictionRow:
        model = self._models.require_failure()
        inputs = await transformer_inputs(self._store, transformer_id, as_of, model.lookback_h)
        started = time.perf_counter()
        risk = await asyncio.to_thread(model.predict, inputs, top)  # tens of ms locally, a network call remotely
        SCORE_SECONDS.labels("failure").observe(time.perf_counter() - started)
        p, at_risk = risk.probability, risk.alarm
        recent = inputs.telemetry["hour_end_unix_s"] > inputs.at_unix_s - COVERAGE_H * 3600
        coverage = min(int(recent.sum()) / COVERAGE_H, 1.0)
        row = PredictionRow(
            asset_type="transformer", asset_id=transformer_id, prediction_type="transformer_failure",
            probability=p, confidence=max(p, 1.0 - p) * coverage, at_risk=at_risk, predicted_at=as_of,
            valid_until=as_of + dt.timedelta(hours=model.horizon_h),
            severity=("critical" if p >= 0.95 else "warning") if at_risk else None,
            details={"telemetry_hours": int(len(inputs.telemetry)),
                     "anomalies_7d": float(inputs.anomaly_counts["anomaly_count"].sum()),
                     "threshold": model.threshold},
            top_features=[{"name": n, "value": finite_or_none(v), "contribution": finite_or_none(c)} for n, v, c in risk.top_features],
            model_version=model.version,
        )
        async with self._store.pool.connection() as conn, conn.transaction():
            stored = await upsert_prediction(conn, row)
            if at_risk:
                await conn.execute(
                    "UPDATE grid.transformers SET status = 'maintenance_pending', updated_at = now()"
                    " WHERE id = %s AND status IN ('operational', 'degraded')", [transformer_id])
                if raise_alert:
                    await enqueue_alerts(conn, [failure_alert(stored)])
        if at_risk and raise_alert:
            self._on_alert()
        return stored



def failure_alert(p: PredictionRow) -> tuple[str, bytes]:
    key = f"failure:{p.asset_id}"
    drivers = ", ".join(f"{f['name']} {f['value']:.3g}" for f in p.top_features[:3] if f["value"] is not None)
    alert = alert_pb2.Alert(
        title=f"Transformer {p.asset_id} failure risk {p.probability:.0%}",
        description=f"Failure predicted before {p.valid_until.isoformat()}; maintenance pending. Drivers: {drivers}",
        severity=alert_pb2.SEVERITY_CRITICAL if p.severity == "critical" else alert_pb2.SEVERITY_WARNING,
        source=alert_pb2.ALERT_SOURCE_FAILURE_PREDICTION, confidence=p.confidence,
        asset_type=alert_pb2.ASSET_TYPE_TRANSFORMER, asset_id=p.asset_id, dedup_key=key,
        labels={"model_version": p.model_version, "prediction": f"predictions/{p.id}"},
    )
    alert.detected_at.FromDatetime(p.predicted_at.astimezone(dt.timezone.utc).replace(tzinfo=None))
    return key, alert_service_pb2.CreateAlertRequest(alert=alert).SerializeToString()
