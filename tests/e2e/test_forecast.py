"""Readings streamed into ingest reach the forecast service's actuals over Kafka, and
GetDemandForecast answers over gRPC from a promoted model, with actuals joined in."""

import datetime as dt
import time

import grpc
import pytest

from forecast_svc.model import DemandModel
from forecast_svc.scopes import network
from forecast_svc.training import register
from google.protobuf.timestamp_pb2 import Timestamp

from meters.forecast.v1 import forecast_model_version_pb2 as mv_pb
from meters.forecast.v1 import forecast_run_pb2 as run_pb
from meters.forecast.v1 import forecast_service_pb2 as pb
from meters.forecast.v1 import forecast_service_pb2_grpc
from meters.forecast.v1.meter_scope_pb2 import MeterScope
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest_client import batches, register_meters
from meters.model_registry import ModelRegistry
from meters.status_details import field_violations
from tests.e2e.readings import meters, readings
from tests.test_forecast_model import synthetic

pytestmark = pytest.mark.infra
FIRST, COUNT, INTERVALS = 9_000_001, 40, 8
HISTORY_FIRST, HISTORY_METERS, HISTORY_DAYS = 9_100_001, 4, 9


@pytest.fixture(scope="module")
def forecast_channel(mesh, tmp_path_factory):
    registry = ModelRegistry(tmp_path_factory.mktemp("registry"))
    series = synthetic(days=9)
    register(registry, DemandModel.fit(series, network(), calibration_days=0), series)
    with mesh.serving("forecast", env={"METERS_MODEL_REGISTRY": str(registry.root)}, timeout_s=120), \
            mesh.channel("forecast") as ch:
        yield ch


def test_readings_reach_actuals_and_forecast_answers(mesh, ingest_channel, forecast_channel, db):
    stub = forecast_service_pb2_grpc.ForecastServiceStub(forecast_channel)
    stub.BatchCreateMeterScopes(pb.BatchCreateMeterScopesRequest(meter_scopes=[
        MeterScope(meter_id=i, transformer_id=77, substation_id=7, region="NSW")
        for i in range(FIRST, FIRST + COUNT)]))
    cols = readings(FIRST, COUNT, INTERVALS, seed=5)
    register_meters(ingest_channel, meters(FIRST, COUNT))
    # A forecast issued before the readings arrive: its past steps get actuals as they stream in.
    first_step = int(cols.reading_times_unix_s.min())
    start = Timestamp(seconds=first_step - 900)
    issued = stub.GetDemandForecast(pb.GetDemandForecastRequest(horizon_hours=24, start_time=start)).forecast_run
    assert len(issued.points) == 96 and issued.model_version
    ingest = ingest_service_pb2_grpc.IngestServiceStub(ingest_channel)
    # All but the last interval first; then everything again: the earlier readings are re-sent in new
    # Kafka messages next to the last interval's, and must not count twice.
    last = cols.reading_times_unix_s == cols.reading_times_unix_s.max()
    reply = ingest.StreamReadings(iter(list(batches([cols.take(~last)], 100))))
    assert reply.summary.accepted == int((~last).sum())
    _wait_for_transformer_total(db, float(cols.demand_kw[~last].sum()) / 1000)
    reply = ingest.StreamReadings(iter(list(batches([cols], 100))))
    assert reply.summary.accepted == len(cols)
    # A meter's readings stay on one partition in order, so once its last interval is summed its
    # re-sent readings (same or earlier message) have been seen too.
    _wait_for_transformer_total(db, float(cols.demand_kw.sum()) / 1000)
    counted = db.execute("SELECT sum(readings) FROM forecast.demand_actuals WHERE scope = 4 AND scope_id = '77'").fetchone()[0]
    assert counted == len(cols)

    run = stub.GetDemandForecast(pb.GetDemandForecastRequest(horizon_hours=24, start_time=start)).forecast_run
    assert run.name == issued.name  # served from the stored run
    with_actuals = [p for p in run.points if p.HasField("actual_mw")]
    assert len(with_actuals) == INTERVALS and run.accuracy.steps_with_actuals == INTERVALS

    # A transformer borrows the network model, scaled by its share of measured demand.
    tx = stub.GetDemandForecast(pb.GetDemandForecastRequest(
        scope=run_pb.FORECAST_SCOPE_TRANSFORMER, scope_id="77", horizon_hours=48)).forecast_run
    assert len(tx.points) == 192 and "via forecast-network" in tx.model_version

    listed = stub.ListForecastRuns(pb.ListForecastRunsRequest(page_size=1, with_actuals_only=True))
    assert len(listed.forecast_runs) == 1 and listed.forecast_runs[0].accuracy.steps_with_actuals > 0

    with pytest.raises(grpc.RpcError) as err:
        stub.GetDemandForecast(pb.GetDemandForecastRequest(horizon_hours=100))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_weather_forecast_over_grpc(forecast_channel):
    """The network model was trained with temperatures: a weather forecast covering the horizon is
    used; one that stops 12 h short is INVALID_ARGUMENT naming the weather field and the steps."""
    stub = forecast_service_pb2_grpc.ForecastServiceStub(forecast_channel)
    start = synthetic(days=9)["ds"].iloc[-1].to_pydatetime()

    def weather(hours):
        points = []
        for i in range(hours * 2 + 1):
            t = Timestamp()
            t.FromDatetime(start + dt.timedelta(minutes=30 * i))
            points.append(pb.WeatherPoint(time=t, temperature_c=30.0))
        return points

    at = Timestamp()
    at.FromDatetime(start)
    run = stub.GetDemandForecast(pb.GetDemandForecastRequest(horizon_hours=24, start_time=at,
                                                             weather=weather(24))).forecast_run
    assert "weather forecast used" in run.model_version and len(run.points) == 96
    with pytest.raises(grpc.RpcError) as err:
        stub.GetDemandForecast(pb.GetDemandForecastRequest(horizon_hours=24, start_time=at, weather=weather(12)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "46 of 96 steps" in field_violations(err.value)["weather"]
    # A time pandas cannot compute with (found by the REST fuzz test: a 500 before) names its field.
    far = Timestamp()
    far.FromDatetime(dt.datetime(2305, 10, 24, tzinfo=dt.timezone.utc))
    with pytest.raises(grpc.RpcError) as err:
        stub.GetDemandForecast(pb.GetDemandForecastRequest(horizon_hours=24, start_time=at,
                                                           weather=[*weather(24), pb.WeatherPoint(time=far)]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "weather[49].time" in field_violations(err.value)


def _wait_for_transformer_total(db, expected_mw: float) -> None:
    deadline = time.monotonic() + 60
    total = 0.0
    while time.monotonic() < deadline:
        total = db.execute("SELECT coalesce(sum(demand_mw), 0) FROM forecast.demand_actuals "
                           "WHERE scope = 4 AND scope_id = '77'").fetchone()[0]
        if total >= expected_mw - 1e-9:
            break
        time.sleep(0.3)
    assert total == pytest.approx(expected_mw, rel=1e-9)


def test_retrain_from_stored_actuals(mesh, ingest_channel, forecast_channel):
    """RetrainForecastModel fits on the network's measured demand (9 days streamed through ingest),
    backtests the held-out day, registers and promotes the new model, and forecasts then use it."""
    stub = forecast_service_pb2_grpc.ForecastServiceStub(forecast_channel)
    register_meters(ingest_channel, meters(HISTORY_FIRST, HISTORY_METERS))
    cols = readings(HISTORY_FIRST, HISTORY_METERS, HISTORY_DAYS * 96, seed=11)
    reply = ingest_service_pb2_grpc.IngestServiceStub(ingest_channel).StreamReadings(
        iter(list(batches([cols], 2000))))
    assert reply.summary.accepted == len(cols)
    oldest = Timestamp(seconds=int(cols.reading_times_unix_s.min()))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the oldest step's sum arrives with the first messages
        run = stub.GetDemandForecast(pb.GetDemandForecastRequest(horizon_hours=24, start_time=oldest, refresh=True))
        if run.forecast_run.points[0].HasField("actual_mw"):
            break
        time.sleep(0.5)
    before = run.forecast_run.model_version

    time.sleep(3)  # the rest of the 9 days (a few thousand readings) lands well within this
    version = stub.RetrainForecastModel(pb.RetrainForecastModelRequest(
        training_days=7, holdout_days=1, promote_if_better=True, wait=True)).forecast_model_version
    assert version.status == mv_pb.FORECAST_MODEL_VERSION_STATUS_READY, version.error_message
    assert version.serving and version.holdout_mape_percent > 0
    assert 6.9 <= (version.training_end_time.seconds - version.training_start_time.seconds) / 86400 <= 7.1
    again = stub.GetForecastModelVersion(pb.GetForecastModelVersionRequest(name=version.name)).forecast_model_version
    assert again.version == version.version and again.serving

    after = stub.GetDemandForecast(pb.GetDemandForecastRequest(horizon_hours=24, refresh=True)).forecast_run
    assert after.model_version and after.model_version != before
