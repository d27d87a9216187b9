"""Readings streamed into ingest reach the forecast service's actuals over Kafka, and
GetDemandForecast answers over gRPC from a promoted model, with actuals joined in."""

import os
import time

import grpc
import pytest

from forecast_svc.model import DemandModel
from forecast_svc.scopes import network
from forecast_svc.training import register
from google.protobuf.timestamp_pb2 import Timestamp

from meters.forecast.v1 import forecast_run_pb2 as run_pb
from meters.forecast.v1 import forecast_service_pb2 as pb
from meters.forecast.v1 import forecast_service_pb2_grpc
from meters.forecast.v1.meter_scope_pb2 import MeterScope
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest_client import batches, register_meters
from meters.model_registry import ModelRegistry
from tests.e2e.readings import meters, readings
from tests.test_forecast_model import synthetic

pytestmark = pytest.mark.infra
FIRST, COUNT, INTERVALS = 9_000_001, 40, 8


@pytest.fixture(scope="module")
def forecast_channel(mesh, tmp_path_factory):
    registry = ModelRegistry(tmp_path_factory.mktemp("registry"))
    series = synthetic(days=9)
    register(registry, DemandModel.fit(series, network(), calibration_days=0), series)
    before = os.environ.get("METERS_MODEL_REGISTRY")
    os.environ["METERS_MODEL_REGISTRY"] = str(registry.root)  # inherited by the service process
    try:
        mesh.start("forecast", timeout_s=120)
    finally:
        if before is None:
            del os.environ["METERS_MODEL_REGISTRY"]
        else:
            os.environ["METERS_MODEL_REGISTRY"] = before
    with grpc.insecure_channel(mesh.grpc_addr("forecast")) as ch:
        yield ch
    mesh.stop("forecast")


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
    reply = ingest_service_pb2_grpc.IngestServiceStub(ingest_channel).StreamReadings(iter(list(batches([cols], 100))))
    assert reply.summary.accepted == len(cols)

    expected_mw = float(cols.demand_kw.sum()) / 1000
    deadline = time.monotonic() + 60
    total = 0.0
    while time.monotonic() < deadline:
        total = db.execute("SELECT coalesce(sum(demand_mw), 0) FROM forecast.demand_actuals "
                           "WHERE scope = 4 AND scope_id = '77'").fetchone()[0]
        if abs(total - expected_mw) < 1e-9:
            break
        time.sleep(0.3)
    assert total == pytest.approx(expected_mw, rel=1e-9)

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
