"""Scoring end to end (plan 9.2): gRPC -> ingest -> Kafka -> scoring consumer -> PostgreSQL -> alert_svc.

The scoring process starts on an empty model registry (scoring answers FAILED_PRECONDITION),
then small models are trained into that registry and ReloadModels picks them up.
"""

import datetime as dt
import os
import shutil
import time

import grpc
import numpy as np
import pytest

from meters.alert.v1 import alert_pb2, alert_service_pb2, alert_service_pb2_grpc
from meters.ingest_client import channel, register_meters, stream_readings
from meters.ml_jobs import MlJob
from meters.model_registry import ModelRegistry
from meters.readings import to_batch
from meters.scoring.v1 import prediction_pb2, scoring_service_pb2 as pb, scoring_service_pb2_grpc, transformer_pb2
from tests.e2e.readings import INTERVAL_S, meters, readings

pytestmark = pytest.mark.infra
TX = 901  # this module's transformer ids start here; meters from 90_000
SUBSTATION = 90


@pytest.fixture(scope="module")
def registry_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("scoring-registry")


@pytest.fixture(scope="module")
def scoring(mesh, registry_dir):
    previous = os.environ.get("METERS_MODEL_REGISTRY")
    os.environ["METERS_MODEL_REGISTRY"] = str(registry_dir)
    try:
        for name in ("alert", "scoring"):
            if name in mesh.procs:
                mesh.stop(name)
            mesh.start(name)
    finally:
        if previous is None:
            os.environ.pop("METERS_MODEL_REGISTRY")
        else:
            os.environ["METERS_MODEL_REGISTRY"] = previous
    with channel(mesh.grpc_addr("scoring")) as ch, channel(mesh.grpc_addr("alert")) as ach:
        yield scoring_service_pb2_grpc.ScoringServiceStub(ch), alert_service_pb2_grpc.AlertServiceStub(ach)


@pytest.fixture(scope="module")
def trained(scoring, registry_dir, tmp_path_factory):
    ready = os.environ.get("METERS_TEST_SCORING_MODELS")  # a registry with promoted models: reuse, skip training
    if ready:
        shutil.copytree(ready, registry_dir, dirs_exist_ok=True)
    else:
        training = pytest.importorskip("scoring_svc.training", reason="the models' training job has not landed")
        training.train(MlJob(ModelRegistry(registry_dir), tmp_path_factory.mktemp("reports"), quick=True))
    reply = scoring[0].ReloadModels(pb.ReloadModelsRequest())
    assert reply.anomaly_model_version
    return reply


def topology(stub, ingest_channel, first_meter: int, tx: int, count: int = 20):
    stub.BatchCreateSubstations(pb.BatchCreateSubstationsRequest(substations=[
        transformer_pb2.Substation(substation_id=SUBSTATION, display_name="ZS-TEST", region="NSW", capacity_mva=20)]))
    stub.BatchCreateTransformers(pb.BatchCreateTransformersRequest(transformers=[
        transformer_pb2.Transformer(transformer_id=tx, transformer_number=f"T-{tx}", substation_id=SUBSTATION,
                                    region="NSW", capacity_kva=200, age_years=31)]))
    ms = meters(first_meter, count)
    for m in ms:
        m.transformer_id = tx
    register_meters(ingest_channel, ms)
    stub.BatchCreateMeterConnections(pb.BatchCreateMeterConnectionsRequest(connections=[
        transformer_pb2.MeterConnection(meter_id=m.meter_id, transformer_id=tx) for m in ms]))


def telemetry(stub, tx: int, hours: int, degrading: bool):
    end = int(time.time()) // 3600 * 3600
    h = np.arange(hours)
    ramp = (h / (hours - 1)) ** 2 if degrading else np.zeros(hours)
    load = 120 + 20 * np.sin(h / 24 * 2 * np.pi) + 50 * ramp
    batch = transformer_pb2.TransformerTelemetryBatch(
        transformer_ids=[tx] * hours, hour_end_unix_s=(end - 3600 * (hours - 1 - h)).tolist(),
        load_kva=load.tolist(), peak_load_kva=(load * 1.15).tolist(), ambient_temp_c=[25.0] * hours,
        oil_temp_c=(55 + 15 * ramp).tolist(), winding_temp_c=(70 + 25 * ramp).tolist(),
        efficiency=(0.985 - 0.035 * ramp).tolist())
    return stub.RecordTransformerTelemetry(pb.RecordTransformerTelemetryRequest(batch=batch))


def wait_for(fn, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while True:
        got = fn()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def test_no_promoted_model_is_failed_precondition(scoring):
    stub, _ = scoring
    cols = readings(99_000, 1, 1)
    with pytest.raises(grpc.RpcError) as err:
        stub.ScoreReadings(pb.ScoreReadingsRequest(batch=to_batch(cols)))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "meters train" in err.value.details()


def test_topology_telemetry_and_grid_health(scoring, ingest_channel):
    stub, _ = scoring
    topology(stub, ingest_channel, 90_000, TX)
    again = stub.BatchCreateTransformers(pb.BatchCreateTransformersRequest(transformers=[
        transformer_pb2.Transformer(transformer_id=TX, capacity_kva=200)]))
    assert again.created == 0 and again.already_existed == 1
    reply = telemetry(stub, TX, 48, degrading=False)
    assert reply.stored == 48 and reply.unknown_transformers == 0
    t = stub.GetTransformer(pb.GetTransformerRequest(name=f"transformers/{TX}")).transformer
    assert t.status == transformer_pb2.TRANSFORMER_STATUS_OPERATIONAL and t.meter_count == 20
    assert 0 < t.load_percent < 100 and t.current_load_kva > 0
    with pytest.raises(grpc.RpcError) as err:
        stub.GetTransformer(pb.GetTransformerRequest(name="transformers/999999"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    health = stub.GetGridHealth(pb.GetGridHealthRequest(substation_id=SUBSTATION)).grid_health
    assert health.transformer_count >= 1 and health.meter_count >= 20
    assert any(c.status == transformer_pb2.TRANSFORMER_STATUS_OPERATIONAL for c in health.transformer_status_counts)


def test_195v_reading_streamed_into_ingest_yields_anomaly_and_alert(trained, scoring, ingest_channel):
    stub, alerts = scoring
    meter = 91_003
    topology(stub, ingest_channel, 91_000, TX + 1)
    cols = readings(91_000, 20, 96, seed=5)  # a day of normal readings, then one sag
    last = np.flatnonzero(cols.meter_ids == meter)[-1]
    cols.voltage_v[last] = 195.0
    cols.current_a[last] = cols.demand_kw[last] * 1000 / (195.0 * cols.power_factor[last])
    stream_readings(ingest_channel, [cols], batch_size=1000)
    when = int(cols.reading_times_unix_s[last])

    def anomaly():
        page = stub.ListPredictions(pb.ListPredictionsRequest(
            asset_type=alert_pb2.ASSET_TYPE_SMART_METER, asset_id=meter,
            prediction_type=prediction_pb2.PREDICTION_TYPE_READING_ANOMALY))
        return [p for p in page.predictions if p.predicted_at.seconds == when]

    found = wait_for(anomaly)
    assert found, "no anomaly prediction for the 195 V reading"
    p = found[0]
    assert p.confidence * 100 >= 85 and p.at_risk and p.details["voltage_v"] == 195.0

    def alert():
        return alerts.ListAlerts(alert_service_pb2.ListAlertsRequest(
            asset_type=alert_pb2.ASSET_TYPE_SMART_METER, asset_id=meter)).alerts

    raised = wait_for(alert)
    assert raised and raised[0].source == alert_pb2.ALERT_SOURCE_ANOMALY_DETECTION
    assert raised[0].dedup_key.startswith(f"anomaly:{meter}:")


def test_failure_indicators_give_maintenance_pending(trained, scoring):
    stub, alerts = scoring
    if not trained.failure_model_version:
        pytest.skip("no failure model promoted yet")
    tx = TX + 2
    stub.BatchCreateTransformers(pb.BatchCreateTransformersRequest(transformers=[
        transformer_pb2.Transformer(transformer_id=tx, substation_id=SUBSTATION, capacity_kva=200, age_years=38)]))
    telemetry(stub, tx, 72, degrading=True)
    p = stub.PredictTransformerFailure(pb.PredictTransformerFailureRequest(
        name=f"transformers/{tx}", raise_alert=True)).prediction
    assert p.probability >= 0.85 and p.confidence * 100 >= 85 and p.top_features
    t = stub.GetTransformer(pb.GetTransformerRequest(name=f"transformers/{tx}")).transformer
    assert t.status == transformer_pb2.TRANSFORMER_STATUS_MAINTENANCE_PENDING
    assert t.latest_prediction == p.name
    assert wait_for(lambda: alerts.ListAlerts(alert_service_pb2.ListAlertsRequest(
        asset_type=alert_pb2.ASSET_TYPE_TRANSFORMER, asset_id=tx)).alerts)


def test_killing_the_scoring_consumer_mid_stream_duplicates_nothing(trained, scoring, mesh, ingest_channel, db):
    stub, _ = scoring
    topology(stub, ingest_channel, 92_000, TX + 3, count=200)
    cols = readings(92_000, 200, 96, seed=9)
    sags = np.flatnonzero(cols.reading_times_unix_s == cols.reading_times_unix_s.max())[::10]
    cols.voltage_v[sags] = 190.0
    stream_readings(ingest_channel, [cols], batch_size=500)
    time.sleep(1.0)
    mesh.kill("scoring")  # SIGKILL mid-stream: no clean-up
    mesh.start("scoring")
    sql = ("SELECT count(*), count(DISTINCT (asset_id, predicted_at)) FROM ml.predictions"
           " WHERE asset_type = 'smart_meter' AND asset_id BETWEEN 92000 AND 92199 AND predicted_at = to_timestamp(%s)")
    when = int(cols.reading_times_unix_s.max())
    # Wait until the restarted consumer has caught up (its group's lag is 0), then count.
    wait_for(lambda: db.execute(sql, [when]).fetchone()[0] > 0, timeout_s=90)
    time.sleep(5)
    total, distinct = db.execute(sql, [when]).fetchone()
    # Recall after a restart is lower (the in-memory history is gone); duplicates must be none.
    assert total == distinct and total >= 1
    outbox = wait_for(lambda: db.execute("SELECT count(*) FROM ml.alert_outbox").fetchone()[0] == 0)
    assert outbox
