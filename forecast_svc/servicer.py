"""ForecastService: translates messages and delegates; no business logic here."""

import datetime as dt
from collections.abc import Callable

from forecast_svc import promotion, shadow
from forecast_svc.forecaster import Forecaster
from forecast_svc.retrain import Retrainer
from forecast_svc.scopes import SCOPE_CODES
from forecast_svc.store import ForecastStore, Run
from meters.audit import call as audited
from meters.errors import FieldViolation, invalid_argument, not_found
from meters.forecast.v1 import forecast_model_decision_pb2 as dm_pb
from meters.forecast.v1 import forecast_model_version_pb2 as mv_pb
from meters.forecast.v1 import forecast_run_pb2 as run_pb
from meters.forecast.v1 import forecast_service_pb2 as pb
from meters.forecast.v1 import forecast_service_pb2_grpc
from meters.model_lifecycle import store as lifecycle
from meters.paging import decode_token, encode_token, page_size
from meters.regions import REGIONS
from meters.timestamps import outside_pandas_years, to_proto

SCOPE_NAMES = {code: name for name, code in SCOPE_CODES.items()}
MAX_SCOPES_PER_CALL = 100_000
DECISION_ACTIONS = {"shadow": dm_pb.FORECAST_MODEL_DECISION_ACTION_SHADOW,
                    "promote": dm_pb.FORECAST_MODEL_DECISION_ACTION_PROMOTE,
                    "refuse": dm_pb.FORECAST_MODEL_DECISION_ACTION_REFUSE,
                    "rollback": dm_pb.FORECAST_MODEL_DECISION_ACTION_ROLLBACK}




def run_message(run: Run, with_points: bool = True) -> run_pb.ForecastRun:
    msg = run_pb.ForecastRun(
        name=f"forecastRuns/{run.id}", scope=SCOPE_CODES[run.scope], scope_id=run.scope_id,
        start_time=to_proto(run.start_time), horizon_hours=run.horizon_hours, step_minutes=15,
        interval_level=run.interval_level, model_version=run.model_version, created_at=to_proto(run.issued_at),
        weather=run.weather,
        accuracy=run_pb.ForecastAccuracy(
            steps_with_actuals=run.accuracy.get("steps_with_actuals", 0),
            within_5pct_fraction=run.accuracy.get("within_5pct", 0.0),
            mape_percent=run.accuracy.get("mape", 0.0), interval_coverage=run.accuracy.get("coverage", 0.0)))
    if with_points:
        msg.points.extend(run_pb.ForecastPoint(time=to_proto(p.time), predicted_mw=p.predicted_mw, lower_mw=p.lower_mw,
                                               upper_mw=p.upper_mw, actual_mw=p.actual_mw) for p in run.points)
    return msg


def _score(evidence: dict, role: str) -> dm_pb.ForecastModelScore | None:
    s = evidence.get(role)
    if not isinstance(s, dict):
        return None
    return dm_pb.ForecastModelScore(version=s["version"], mape_percent=s["error"] or 0.0, steps=s["steps"],
                                    median_latency_seconds=s["latency_s"] or 0.0)


def decision_message(row: dict) -> dm_pb.ForecastModelDecision:
    ev = row["evidence"] or {}
    return dm_pb.ForecastModelDecision(
        id=row["id"], action=DECISION_ACTIONS[row["action"]], from_version=row["from_version"] or "",
        to_version=row["to_version"] or "", reason=ev.get("reason", ""), promoted=_score(ev, "promoted"),
        shadow=_score(ev, "shadow"), decided_at=to_proto(row["decided_at"]))


class ForecastServicer(forecast_service_pb2_grpc.ForecastServiceServicer):
    def __init__(self, forecaster: Forecaster, store: ForecastStore, retrainer: Retrainer,
                 on_new_placements: Callable[[], None] = lambda: None):
        self._forecaster = forecaster
        self._store = store
        self._retrainer = retrainer
        self._registry = retrainer.registry
        self._on_new_placements = on_new_placements  # the actuals consumer sees new meters at once

    async def GetDemandForecast(self, request, context):
        bad = [outside_pandas_years("start_time", request.start_time)] if request.HasField("start_time") else []
        bad += [outside_pandas_years(f"weather[{i}].time", w.time) for i, w in enumerate(request.weather)]
        if any(bad):
            raise invalid_argument("invalid demand forecast request", *filter(None, bad))
        run = await self._forecaster.get(
            SCOPE_NAMES.get(request.scope or 1, "?"), request.scope_id, request.horizon_hours,
            request.start_time.ToDatetime(dt.timezone.utc) if request.HasField("start_time") else None,
            request.refresh,
            [(w.time.ToDatetime(dt.timezone.utc), w.temperature_c) for w in request.weather])
        return pb.GetDemandForecastResponse(forecast_run=run_message(run))

    async def ListForecastRuns(self, request, context):
        limit = page_size(request.page_size, 50, 1000)
        after = decode_token(request.page_token, 1)
        where, args = [], []
        if after:
            where.append("r.id < %s"), args.append(after[0])
        if request.scope:
            where.append("r.scope = %s"), args.append(request.scope)
        if request.scope_id:
            where.append("r.scope_id = %s"), args.append(request.scope_id)
        if request.HasField("start_time"):
            where.append("r.start_time >= %s"), args.append(request.start_time.ToDatetime(dt.timezone.utc))
        if request.HasField("end_time"):
            where.append("r.start_time < %s"), args.append(request.end_time.ToDatetime(dt.timezone.utc))
        if request.with_actuals_only:
            where.append("acc.n > 0")
        full = request.view == run_pb.FORECAST_RUN_VIEW_FULL
        runs = await self._store.list_runs(where, args, limit + 1, full)
        token = encode_token([runs[limit - 1].id]) if len(runs) > limit else ""
        return pb.ListForecastRunsResponse(forecast_runs=[run_message(r, full) for r in runs[:limit]],
                                           next_page_token=token)

    async def RetrainForecastModel(self, request, context):
        async with audited(self._store.pool, "forecastModelVersions", "retrain") as change:
            if request.training_days < 0 or request.holdout_days < 0:
                raise invalid_argument("days must not be negative", FieldViolation("training_days", ">= 0"),
                                       FieldViolation("holdout_days", ">= 0"))
            version = await self._retrainer.start(request.training_days, request.holdout_days,
                                                  request.promote_if_better, request.wait, change)
        return pb.RetrainForecastModelResponse(forecast_model_version=await self._version(version))

    async def DecideShadowForecastModel(self, request, context):
        async with audited(self._store.pool, f"models/{shadow.MODEL}", "decide_shadow") as change:
            if request.window_hours < 0:
                raise invalid_argument("window_hours must not be negative", FieldViolation("window_hours", ">= 0"))
            row = await promotion.decide(self._store.pool, self._registry, change, request.window_hours)
        return pb.DecideShadowForecastModelResponse(decision=decision_message(row))

    async def RollbackForecastModel(self, request, context):
        async with audited(self._store.pool, f"models/{shadow.MODEL}", "rollback") as change:
            row = await lifecycle.rollback(self._store.pool, self._registry, shadow.MODEL, change)
        return pb.RollbackForecastModelResponse(decision=decision_message(row))

    async def GetForecastModelVersion(self, request, context):
        prefix = "forecastModelVersions/"
        if not request.name.startswith(prefix) or len(request.name) == len(prefix):
            raise invalid_argument("name must look like forecastModelVersions/<version>",
                                   FieldViolation("name", "expected forecastModelVersions/<version>"))
        return pb.GetForecastModelVersionResponse(forecast_model_version=await self._version(request.name[len(prefix):]))

    async def BatchCreateMeterScopes(self, request, context):
        async with audited(self._store.pool, "meterScopes", "batch_create") as change:
            return await self._batch_create_meter_scopes(request, change)

    async def _batch_create_meter_scopes(self, request, change):
        scopes = request.meter_scopes
        bad = [FieldViolation(f"meter_scopes[{i}]", "ids must be positive and region a NEM region code")
               for i, s in enumerate(scopes)
               if s.meter_id <= 0 or s.transformer_id <= 0 or s.substation_id <= 0
               or s.region not in REGIONS]
        if len(scopes) > MAX_SCOPES_PER_CALL:
            bad.insert(0, FieldViolation("meter_scopes", f"at most {MAX_SCOPES_PER_CALL:,} per call"))
        if bad:
            raise invalid_argument("invalid meter scopes", *bad[:100])
        stored = await self._store.upsert_meter_scopes(
            [(s.meter_id, s.transformer_id, s.substation_id, s.region) for s in scopes], change)
        self._on_new_placements()
        return pb.BatchCreateMeterScopesResponse(stored=stored)

    async def _version(self, version: str) -> mv_pb.ForecastModelVersion:
        row = await self._store.get_version(version)
        if row is None:
            raise not_found("forecastModelVersion", version)
        return mv_pb.ForecastModelVersion(
            name=f"forecastModelVersions/{version}", version=version, status=row["status"], serving=row["serving"],
            training_start_time=to_proto(row["training_start"]), training_end_time=to_proto(row["training_end"]),
            holdout_within_5pct_fraction=row["holdout_within_5pct"] or 0.0,
            holdout_mape_percent=row["holdout_mape_percent"] or 0.0, error_message=row["error_message"],
            created_at=to_proto(row["created_at"]), completed_at=to_proto(row["completed_at"]))
