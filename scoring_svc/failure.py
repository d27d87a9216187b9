"""Transformer failure prediction (plan 7.2, 9.2): features from this service's telemetry,
the promoted failure model, the stored prediction, and the automated response.

At or above the model's threshold (0.85 in the plan) the transformer goes to
`maintenance_pending` and an alert (dedup key `failure:<transformer>`) is queued, both in
the prediction's transaction.
"""

import datetime as dt

import numpy as np
import pandas as pd

from meters.alert.v1 import alert_pb2, alert_service_pb2
from scoring_svc.predictors import Models
from scoring_svc.store import PredictionRow, ScoringStore, enqueue_alerts, upsert_prediction

ANOMALY_LOOKBACK = dt.timedelta(days=7)


async def failure_features(store: ScoringStore, transformer_id: int, as_of: dt.datetime,
                           lookback_h: int) -> dict[str, float]:
    """The plan's engineer_transformer_features, from the last `lookback_h` hours of telemetry."""
    capacity, age, last_maintenance, _ = await store.transformer_facts(transformer_id)
    tele = await store.telemetry(transformer_id, as_of - dt.timedelta(hours=lookback_h), as_of)
    anomalies = await store.meter_anomaly_count(transformer_id, as_of - ANOMALY_LOOKBACK, as_of)
    util = tele["load_kva"] / capacity
    peak = tele["peak_load_kva"].fillna(tele["load_kva"]) / capacity
    eff = tele["efficiency"].dropna()
    trend = float(np.polyfit(np.arange(len(eff)), eff.to_numpy(), 1)[0]) if len(eff) >= 2 else 0.0
    nan = float("nan")
    return {
        "age_years": float(age),
        "load_utilization_avg": float(util.mean()) if len(tele) else nan,
        "load_utilization_max": float(peak.max()) if len(tele) else nan,
        "temperature_avg": float(tele["oil_temp_c"].mean()) if len(tele) else nan,
        "temperature_max": float(tele["winding_temp_c"].max()) if len(tele) else nan,
        "oil_temp_max": float(tele["oil_temp_c"].max()) if len(tele) else nan,
        "ambient_temp_avg": float(tele["ambient_temp_c"].mean()) if len(tele) else nan,
        "efficiency_avg": float(eff.mean()) if len(eff) else nan,
        "efficiency_min": float(eff.min()) if len(eff) else nan,
        "efficiency_trend": trend,  # change per hour
        "anomaly_count_7d": float(anomalies),
        "maintenance_days_since": (as_of - last_maintenance).total_seconds() / 86_400 if last_maintenance else nan,
        "telemetry_hours": float(len(tele)),
    }


class FailurePredictions:
    def __init__(self, store: ScoringStore, models: Models, lookback_h: int = 24, on_alert=lambda: None):
        self._store = store
        self._models = models
        self._lookback_h = lookback_h
        self._on_alert = on_alert

    async def predict(self, transformer_id: int, as_of: dt.datetime, top: int = 5,
                      raise_alert: bool = True) -> PredictionRow:
        model = self._models.require_failure()
        features = await failure_features(self._store, transformer_id, as_of, self._lookback_h)
        frame = pd.DataFrame([{name: features.get(name, np.nan) for name in model.feature_names}])
        risk = model.predict(frame, top)[0]
        p = float(risk.probability)
        at_risk = p >= model.threshold
        coverage = min(features["telemetry_hours"] / self._lookback_h, 1.0)
        row = PredictionRow(
            asset_type="transformer", asset_id=transformer_id, prediction_type="transformer_failure",
            probability=p, confidence=max(p, 1.0 - p) * coverage, at_risk=at_risk, predicted_at=as_of,
            valid_until=as_of + dt.timedelta(hours=model.horizon_h),
            severity=("critical" if p >= 0.95 else "warning") if at_risk else None,
            details={k: (v if np.isfinite(v) else None) for k, v in features.items()},
            top_features=[{"name": n, "value": _num(v), "contribution": _num(c)} for n, v, c in risk.top_features],
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


def _num(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


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
