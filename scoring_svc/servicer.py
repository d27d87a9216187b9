"""ScoringService: translates messages and delegates; no business logic here."""

import asyncio
import datetime as dt

import numpy as np
from google.protobuf import struct_pb2

from meters.alert.v1 import alert_pb2
from meters.audit import call as audited
from meters.errors import FieldViolation, invalid_argument
from meters.names import parse_id
from meters.paging import decode_token, encode_token, page_size
from meters.readings import column_lengths, from_batch
from meters.scoring.v1 import prediction_pb2, score_pb2, scoring_service_pb2 as pb, scoring_service_pb2_grpc
from meters.scoring.v1 import transformer_pb2
from meters.scoring.v1.score_pb2 import AnomalyType
from meters.timestamps import to_proto
from scoring_svc.anomalies import AnomalyScorer, ScoredBatch, anomaly_alert, anomaly_predictions
from scoring_svc.alerts import AlertSender
from scoring_svc.failure import FailurePredictions
from scoring_svc.grid_health import grid_health
from scoring_svc.metrics import READINGS_SCORED
from scoring_svc.predictors import ANOMALY_MODEL, Models
from scoring_svc.store import PredictionFilter, PredictionRow, ScoringStore, enqueue_alerts, insert_predictions

TELEMETRY_COLUMNS = ("transformer_ids", "hour_end_unix_s", "load_kva", "peak_load_kva", "ambient_temp_c",
                     "oil_temp_c", "winding_temp_c", "efficiency")




def _lower(enum, value: int, prefix: str) -> str | None:
    return enum.Name(value).removeprefix(prefix).lower() if value else None


def prediction_message(p: PredictionRow) -> prediction_pb2.Prediction:
    details = struct_pb2.Struct()
    details.update(p.details)
    return prediction_pb2.Prediction(
        name=f"predictions/{p.id}", prediction_id=p.id,
        asset_type=alert_pb2.AssetType.Value("ASSET_TYPE_" + p.asset_type.upper()), asset_id=p.asset_id,
        prediction_type=prediction_pb2.PredictionType.Value("PREDICTION_TYPE_" + p.prediction_type.upper()),
        probability=p.probability, confidence=p.confidence, at_risk=p.at_risk, predicted_at=to_proto(p.predicted_at),
        valid_until=to_proto(p.valid_until),
        top_features=[prediction_pb2.FeatureContribution(name=f["name"], value=f["value"] or 0.0,
                                                         contribution=f["contribution"] or 0.0)
                      for f in p.top_features],
        model_version=p.model_version, created_at=to_proto(p.created_at),
        anomaly_type=AnomalyType.Value("ANOMALY_TYPE_" + p.anomaly_type.upper()) if p.anomaly_type else 0,
        severity=alert_pb2.Severity.Value("SEVERITY_" + p.severity.upper()) if p.severity else 0,
        details=details,
    )


def transformer_message(r: tuple) -> transformer_pb2.Transformer:
    (tid, number, sub, region, cap, load, status, age, maint, meters, pred_id, prob, updated, oil, eff) = r
    return transformer_pb2.Transformer(
        name=f"transformers/{tid}", transformer_id=tid, transformer_number=number, substation_id=sub, region=region,
        capacity_kva=cap, current_load_kva=load, load_percent=100.0 * load / cap,
        status=transformer_pb2.TransformerStatus.Value("TRANSFORMER_STATUS_" + status.upper()), age_years=age,
        last_maintenance_at=to_proto(maint), meter_count=meters, failure_probability=prob,
        latest_prediction=f"predictions/{pred_id}" if pred_id else "", updated_at=to_proto(updated),
        oil_temp_c=oil, efficiency=eff,
    )


def score_message(s: ScoredBatch) -> score_pb2.ScoreBatch:
    return score_pb2.ScoreBatch(
        anomaly_scores=s.scores.tolist(), is_anomaly=s.is_anomaly.tolist(), anomaly_types=s.types.tolist(),
        severities=s.severities.tolist(), anomaly_count=s.anomaly_count, model_version=s.model_version)


def _columns(batch, field: str):
    lengths = column_lengths(batch)
    if len(set(lengths.values())) > 1:
        n = lengths["meter_ids"]
        raise invalid_argument("every column of the batch must have the same length", *(
            FieldViolation(f"{field}.{name}", f"has {k} values, meter_ids has {n}")
            for name, k in lengths.items() if k != n))
    return from_batch(batch)


class ScoringServicer(scoring_service_pb2_grpc.ScoringServiceServicer):
    def __init__(self, models: Models, scorer: AnomalyScorer, failures: FailurePredictions, store: ScoringStore,
                 sender: AlertSender, alert_stub, on_telemetry=lambda: None):
        self._models = models
        self._scorer = scorer
        self._failures = failures
        self._store = store
        self._sender = sender
        self._alert_stub = alert_stub
        self._on_telemetry = on_telemetry  # refreshes the transformer load gauges

    async def _score(self, batch, raise_alerts: bool, field: str) -> score_pb2.ScoreBatch:
        cols = _columns(batch, field)
        # In-process scoring takes about a millisecond and stays inline; a remote predictor waits on the
        # network, which must not hold the event loop.
        remote = ANOMALY_MODEL in self._scorer.models.remote
        scored = await asyncio.to_thread(self._scorer.score, cols) if remote else self._scorer.score(cols)
        READINGS_SCORED.labels("rpc").inc(len(scored.scores))
        if raise_alerts and scored.anomaly_count:
            async with self._store.pool.connection() as conn, conn.transaction():
                new = await insert_predictions(conn, anomaly_predictions(scored))
                await enqueue_alerts(conn, [anomaly_alert(p) for p in new])
            self._sender.wake()
        return score_message(scored)

    async def ScoreReadings(self, request, context):
        return pb.ScoreReadingsResponse(scores=await self._score(request.batch, request.raise_alerts, "batch"))

    async def StreamScores(self, request_iterator, context):
        i = 0
        async for request in request_iterator:
            scores = await self._score(request.batch, request.raise_alerts, f"requests[{i}].batch")
            yield pb.StreamScoresResponse(batch_id=request.batch_id, scores=scores)
            i += 1

    async def PredictTransformerFailure(self, request, context):
        tid = parse_id(request.name, "transformers")
        if request.top_features < 0:
            raise invalid_argument("top_features must not be negative", FieldViolation("top_features", "must be >= 0"))
        as_of = (request.as_of.ToDatetime(dt.timezone.utc) if request.HasField("as_of")
                 else dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
        p = await self._failures.predict(tid, as_of, request.top_features or 3, request.raise_alert)
        return pb.PredictTransformerFailureResponse(prediction=prediction_message(p))

    async def ListPredictions(self, request, context):
        limit = page_size(request.page_size, 100, 1000)
        after = decode_token(request.page_token, 2)
        f = PredictionFilter(
            asset_type=_lower(alert_pb2.AssetType, request.asset_type, "ASSET_TYPE_"), asset_id=request.asset_id,
            prediction_type=_lower(prediction_pb2.PredictionType, request.prediction_type, "PREDICTION_TYPE_"),
            start=request.start_time.ToDatetime(dt.timezone.utc) if request.HasField("start_time") else None,
            end=request.end_time.ToDatetime(dt.timezone.utc) if request.HasField("end_time") else None,
            min_probability=request.min_probability, valid_only=request.valid_only)
        rows = await self._store.list_predictions(f, tuple(after) if after else None, limit + 1)
        token = ""
        if len(rows) > limit:
            last = rows[limit - 1]
            token = encode_token([int(last.predicted_at.timestamp() * 1_000_000), last.id])
        return pb.ListPredictionsResponse(predictions=[prediction_message(p) for p in rows[:limit]],
                                          next_page_token=token)

    async def GetTransformer(self, request, context):
        row = await self._store.get_transformer(parse_id(request.name, "transformers"))
        return pb.GetTransformerResponse(transformer=transformer_message(row))

    async def ListTransformers(self, request, context):
        limit = page_size(request.page_size, 100, 1000)
        after = decode_token(request.page_token, 1)
        rows = await self._store.list_transformers(
            after[0] if after else 0, limit + 1, request.substation_id,
            _lower(transformer_pb2.TransformerStatus, request.status, "TRANSFORMER_STATUS_"), request.at_risk_only)
        token = encode_token([rows[limit - 1][0]]) if len(rows) > limit else ""
        return pb.ListTransformersResponse(transformers=[transformer_message(r) for r in rows[:limit]],
                                           next_page_token=token)

    async def GetGridHealth(self, request, context):
        if request.window_minutes < 0:
            raise invalid_argument("window_minutes must not be negative",
                                   FieldViolation("window_minutes", "must be >= 0"))
        health = await grid_health(self._store, self._alert_stub, request.substation_id, request.window_minutes or 60)
        return pb.GetGridHealthResponse(grid_health=health)

    async def BatchCreateSubstations(self, request, context):
        async with audited(self._store.pool, "substations", "batch_create") as change:
            return await self._batch_create_substations(request, change)

    async def _batch_create_substations(self, request, change):
        bad = [FieldViolation(f"substations[{i}]", "substation_id must be positive")
               for i, s in enumerate(request.substations) if s.substation_id <= 0]
        if bad:
            raise invalid_argument("invalid substations", *bad[:100])
        rows = [(s.substation_id, s.display_name or f"substation-{s.substation_id}", s.region or None,
                 s.capacity_mva or None, _lower(transformer_pb2.TransformerStatus, s.status, "TRANSFORMER_STATUS_")
                 or "operational") for s in request.substations]
        created = await self._store.create_substations(rows, change)
        return pb.BatchCreateSubstationsResponse(created=created, already_existed=len(rows) - created)

    async def BatchCreateTransformers(self, request, context):
        async with audited(self._store.pool, "transformers", "batch_create") as change:
            return await self._batch_create_transformers(request, change)

    async def _batch_create_transformers(self, request, change):
        bad = [FieldViolation(f"transformers[{i}]", "transformer_id and capacity_kva must be positive")
               for i, t in enumerate(request.transformers) if t.transformer_id <= 0 or t.capacity_kva <= 0]
        if bad:
            raise invalid_argument("invalid transformers", *bad[:100])
        rows = [(t.transformer_id, t.transformer_number or f"T-{t.transformer_id:06d}", t.substation_id or None,
                 t.region or None, t.capacity_kva,
                 _lower(transformer_pb2.TransformerStatus, t.status, "TRANSFORMER_STATUS_") or "operational",
                 t.age_years, t.last_maintenance_at.ToDatetime(dt.timezone.utc)
                 if t.HasField("last_maintenance_at") else None, t.feeder_id or None) for t in request.transformers]
        created = await self._store.create_transformers(rows, change)
        return pb.BatchCreateTransformersResponse(created=created, already_existed=len(rows) - created)

    async def BatchCreateMeterConnections(self, request, context):
        async with audited(self._store.pool, "meterConnections", "batch_create") as change:
            return await self._batch_create_meter_connections(request, change)

    async def _batch_create_meter_connections(self, request, change):
        meters = np.array([c.meter_id for c in request.connections], dtype=np.int64)
        txs = np.array([c.transformer_id for c in request.connections], dtype=np.int64)
        bad = np.flatnonzero((meters <= 0) | (txs <= 0))
        if len(bad):
            raise invalid_argument("invalid connections", *(
                FieldViolation(f"connections[{i}]", "meter_id and transformer_id must be positive") for i in bad[:100]))
        return pb.BatchCreateMeterConnectionsResponse(stored=await self._store.connect_meters(meters, txs, change))

    async def RecordTransformerTelemetry(self, request, context):
        b = request.batch
        lengths = {name: len(getattr(b, name)) for name in TELEMETRY_COLUMNS}
        n = lengths["transformer_ids"]
        if any(k != n for k in lengths.values()):
            raise invalid_argument("every column of the batch must have the same length", *(
                FieldViolation(f"batch.{name}", f"has {k} values, transformer_ids has {n}")
                for name, k in lengths.items() if k != n))
        if len(b.energy_kwh) not in (0, n):  # optional column: absent, or one value per row
            raise invalid_argument("every column of the batch must have the same length", FieldViolation(
                "batch.energy_kwh", f"has {len(b.energy_kwh)} values, transformer_ids has {n} (or send none)"))
        cols = {name: np.array(getattr(b, name), dtype=np.int64 if i < 2 else np.float64)
                for i, name in enumerate(TELEMETRY_COLUMNS)}
        cols["energy_kwh"] = np.array(b.energy_kwh, dtype=np.float64) if len(b.energy_kwh) else np.full(n, np.nan)
        stored, unknown, rejected = await self._store.record_telemetry(cols)
        if stored:
            self._on_telemetry()
        return pb.RecordTransformerTelemetryResponse(stored=stored, unknown_transformers=unknown,
                                                     energy_rejected=rejected)

    async def ReloadModels(self, request, context):
        # The swap is in memory, so it cannot share the record's transaction: the models are loaded,
        # the record committed, then the swap made; a record that cannot be written stops the swap.
        async with audited(self._store.pool, "models", "reload") as change:
            loaded = await asyncio.to_thread(self._models.load_promoted)
            async with self._store.pool.connection() as conn, conn.transaction():
                await change.record(conn, before=Models.versions(self._models.anomaly, self._models.failure),
                                    after=Models.versions(*loaded))
            self._models.serve(*loaded)
        return pb.ReloadModelsResponse(
            anomaly_model_version=self._models.anomaly.version if self._models.anomaly else "",
            failure_model_version=self._models.failure.version if self._models.failure else "")
