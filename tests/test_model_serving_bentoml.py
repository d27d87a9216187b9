"""BentoML's own server hosting our models: the real `bentoml serve model_serving.bentoml_service:MeterModels`
on a free port, real HTTP requests, answers equal to the in-process models' on the same inputs.
Marked infra: it starts a server (no Kafka or PostgreSQL)."""

import numpy as np
import pytest

from meters.model_registry import ModelRegistry
from model_serving import processes, samples
from model_serving.columns import as_json_columns
from model_serving.processes import post_json
from scoring_svc.models.anomaly import AnomalyDetector
from scoring_svc.models.failure import FailurePredictor

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> ModelRegistry:
    return samples.quick_registry(tmp_path_factory.mktemp("bentoml-models"))


@pytest.fixture(scope="module")
def server(registry, tmp_path_factory):
    with processes.start_bentoml(registry.root, tmp_path_factory.mktemp("bentoml-logs")) as s:
        yield s


@pytest.fixture(scope="module")
def readings():
    return samples.readings()


def call(server, route: str, columns: dict) -> dict:
    status, body = post_json(f"{server.url}/{route}", as_json_columns(columns))
    assert status == 200, body
    return body


def test_anomaly_scores_equal_the_in_process_detector(server, registry, readings):
    history, new = readings
    detector = AnomalyDetector.load(registry)
    for hist in (history, None):  # with each meter's last 24 h, and without
        expected = detector.score(hist, new)
        body = call(server, "anomaly", samples.reading_columns(hist, new))
        assert body["model_version"] == registry.promoted("anomaly").manifest.version
        out = body["outputs"]
        np.testing.assert_allclose(out["score"], expected.score, rtol=0, atol=1e-6)
        assert out["is_anomaly"] == expected.is_anomaly.tolist()
        assert out["anomaly_type"] == expected.anomaly_type.tolist()
        assert out["severity"] == expected.severity.tolist()
        assert out["meter_ids"] == new.meter_ids.tolist()
    assert expected.is_anomaly.any() and not expected.is_anomaly.all()  # the sample has both kinds


def test_failure_predictions_equal_the_in_process_predictor(server, registry):
    features = samples.failure_features(registry)
    expected = FailurePredictor.load(registry).predict(features)
    out = call(server, "failure", {c: features[c].to_numpy() for c in features.columns})["outputs"]
    np.testing.assert_allclose(out["probability"], expected.probability, rtol=0, atol=1e-6)
    assert out["alarm"] == expected.alarm.tolist()
    assert out["top_features"] == [[name for name, _ in row] for row in expected.top_features]
    np.testing.assert_allclose(out["top_contributions"], [[c for _, c in row] for row in expected.top_features],
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("mutate, says", [
    (lambda body: body.pop("voltage_v"), "voltage_v"),  # BentoML's validation: a missing field
    (lambda body: body.update(voltage=body.pop("voltage_v")), "voltage"),  # an unknown one
    (lambda body: body.update(meter_ids=["m1"] * len(body["meter_ids"])), "meter_ids"),  # not integers
    (lambda body: body.update(voltage_v=body["voltage_v"][:-1]), "inputs differ in length"),  # ours
    (lambda body: body.update({k: [] for k in body}), "no rows"),
])
def test_malformed_request_is_a_400_saying_what_is_wrong(server, readings, mutate, says):
    _, new = readings
    body = as_json_columns(samples.reading_columns(None, new))
    mutate(body)
    status, answer = post_json(f"{server.url}/anomaly", body)
    assert status == 400, answer
    assert says in str(answer), answer
