"""scoring_svc with its models hosted by KServe (METERS_*_PREDICTOR_URL): KServe's real server
(model_serving.kserve_server in .venv/kserve) over a quick-model registry, the scoring service and
ingest as mesh processes pointed at it. ScoreReadings over gRPC answers what the in-process model
answers; with the KServe server stopped a call is UNAVAILABLE (not INTERNAL) and streamed readings
stay uncommitted, to be scored once the server is back on the same port.

Kafka and PostgreSQL are a stack of this module's own (as in tests/e2e/test_kafka_outage.py):
readings go to the one `meter-readings` topic, and the session mesh's writer and scoring group
must neither take this module's readings nor have theirs taken."""

import tempfile
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest

from meters.ingest_client import register_meters, stream_readings
from meters.localstack.common import free_port
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh
from meters.readings import to_batch
from meters.scoring.v1 import prediction_pb2, scoring_service_pb2 as pb, scoring_service_pb2_grpc
from meters.alert.v1 import alert_pb2
from model_serving import processes, samples
from scoring_svc import remote_predictors
from scoring_svc.models.anomaly import AnomalyDetector
from scoring_svc.models.fleet_data import load_fleet
from scoring_svc.models.fleets import failure_fleet
from scoring_svc.predictors import TransformerInputs, load_failure
from meters.ml_jobs import MlJob
from tests.e2e.readings import meters, readings
from tests.grpc_helpers import wait_for

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return samples.quick_registry(tmp_path_factory.mktemp("remote-models"))


class KServe:
    """KServe's server on one port for the whole module, stopped and started again by the tests."""

    def __init__(self, registry, log_dir: Path):
        self.registry, self.log_dir, self.port = registry, log_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._running = None

    def start(self):
        self._running = processes.start_kserve(self.registry.root, self.log_dir, port=self.port)
        self._running.__enter__()

    def stop(self):
        if self._running is not None:
            self._running.__exit__(None, None, None)
            self._running = None


@pytest.fixture(scope="module")
def kserve(registry, tmp_path_factory):
    server = KServe(registry, tmp_path_factory.mktemp("kserve-logs"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mesh(registry, kserve):
    with tempfile.TemporaryDirectory(prefix="meters-remote-") as tmp, pytest.MonkeyPatch.context() as mp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        for key, value in {"METERS_MODEL_REGISTRY": str(registry.root), "METERS_ANOMALY_PREDICTOR_URL": kserve.url,
                           "METERS_FAILURE_PREDICTOR_URL": kserve.url}.items():
            mp.setenv(key, value)
        with LocalStack(Path(tmp) / "stack") as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn,
                                                            stack.kafka_bootstrap) as m:
            m.start("ingest", "scoring")
            yield m


@pytest.fixture(scope="module")
def stubs(mesh):
    with mesh.channel("scoring") as ch, mesh.channel("ingest") as ich:
        yield scoring_service_pb2_grpc.ScoringServiceStub(ch), ich


def day_then_sag(first_meter: int, count: int, sag_meter: int, seed: int):
    """A day of normal readings of `count` meters, the last reading of `sag_meter` at 195 V."""
    cols = readings(first_meter, count, 96, seed=seed)
    last = np.flatnonzero(cols.meter_ids == sag_meter)[-1]
    cols.voltage_v[last] = 195.0
    cols.current_a[last] = cols.demand_kw[last] * 1000 / (195.0 * cols.power_factor[last])
    return cols, last


def test_score_readings_via_kserve_equals_the_in_process_model(stubs, registry):
    stub, _ = stubs
    cols, sag = day_then_sag(95_000, 10, 95_003, seed=5)
    reply = stub.ScoreReadings(pb.ScoreReadingsRequest(batch=to_batch(cols))).scores
    # These meters were never streamed: the service has no history of them, so none is sent.
    expected = AnomalyDetector.load(registry).score(None, cols)
    np.testing.assert_allclose(reply.anomaly_scores, expected.score, rtol=0, atol=1e-6)
    assert list(reply.is_anomaly) == (expected.score >= 0.85).tolist()
    assert reply.model_version == registry.promoted("anomaly").manifest.version
    assert reply.is_anomaly[sag] and reply.anomaly_scores[sag] >= 0.85, reply.anomaly_scores[sag]


def test_failure_prediction_via_kserve_equals_the_in_process_model(kserve, registry):
    """The remote client builds the features with the served version's thermal baseline (from its
    manifest) and gets probability, alarm and top features from KServe: as in process."""
    cfg = failure_fleet(MlJob(registry, Path("."), quick=True), evaluation=True)
    data = load_fleet(cfg, keep_readings=False, label="failure fleet")
    local, remote = load_failure(registry), remote_predictors.load_failure(kserve.url, registry)
    assert remote.version == local.version and remote.threshold == local.threshold
    at = int(data.telemetry["hour_end_unix_s"].max())
    for tx in data.topology.transformers["transformer_id"].head(3):
        inputs = TransformerInputs(
            data.telemetry[data.telemetry["transformer_id"] == tx].reset_index(drop=True),
            data.anomaly_counts[data.anomaly_counts["transformer_id"] == tx].reset_index(drop=True),
            data.topology.transformers[data.topology.transformers["transformer_id"] == tx].reset_index(drop=True), at)
        want, got = local.predict(inputs, 3), remote.predict(inputs, 3)
        assert got.probability == pytest.approx(want.probability, abs=1e-6) and got.alarm == want.alarm
        assert [n for n, _, _ in got.top_features] == [n for n, _, _ in want.top_features]
        assert pd.Series([c for _, _, c in got.top_features]).tolist() == pytest.approx(
            [c for _, _, c in want.top_features], abs=1e-6)


def consumer_restarts(mesh) -> float:
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{mesh.metrics_port('scoring')}/metrics", timeout=5).read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("meters_scoring_consumer_restarts_total"))


def test_kserve_down_is_unavailable_and_streamed_readings_wait_for_it(stubs, mesh, kserve):
    stub, ingest = stubs
    one = readings(95_100, 1, 1)
    kserve.stop()
    with pytest.raises(grpc.RpcError) as err:
        stub.ScoreReadings(pb.ScoreReadingsRequest(batch=to_batch(one)))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE, err.value.details()
    assert "anomaly predictor" in err.value.details()

    # Readings streamed meanwhile: the consumer fails on them (a restart counted) and commits nothing.
    register_meters(ingest, meters(96_000, 10))
    cols, _ = day_then_sag(96_000, 10, 96_004, seed=6)
    restarts = consumer_restarts(mesh)
    stream_readings(ingest, [cols], batch_size=1000)
    assert wait_for(lambda: consumer_restarts(mesh) > restarts), "the consumer never tried the streamed readings"
    when = int(cols.reading_times_unix_s[cols.meter_ids == 96_004].max())

    def anomaly():
        page = stub.ListPredictions(pb.ListPredictionsRequest(
            asset_type=alert_pb2.ASSET_TYPE_SMART_METER, asset_id=96_004,
            prediction_type=prediction_pb2.PREDICTION_TYPE_READING_ANOMALY))
        return [p for p in page.predictions if p.predicted_at.seconds == when]

    assert not anomaly()

    kserve.start()  # the same port: the service's URL is unchanged
    reply = stub.ScoreReadings(pb.ScoreReadingsRequest(batch=to_batch(one)))
    assert len(reply.scores.anomaly_scores) == 1
    # The readings held back are scored now, from the offsets that were never committed.
    found = wait_for(anomaly, timeout_s=120)
    assert found, "the 195 V reading streamed while KServe was down was lost"
    assert found[0].at_risk and found[0].confidence >= 0.85 and found[0].details["voltage_v"] == 195.0
