"""KServe's own model server hosting our models: the real `python -m model_serving.kserve_server`
(kserve.ModelServer in .venv/kserve) on a free port, real HTTP requests, answers equal to the
in-process models' on the same inputs. Marked infra: it starts a server (no Kafka or PostgreSQL)."""

import json
import subprocess

import numpy as np
import pytest

from meters.model_registry import ModelRegistry
from model_serving import processes, samples
from model_serving.columns import ANOMALY_INPUTS, FAILURE_INPUTS, as_json_rows, v2_request
from model_serving.processes import get_json, post_json
from scoring_svc.models.anomaly import AnomalyDetector
from scoring_svc.models.failure import FailurePredictor

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> ModelRegistry:
    return samples.quick_registry(tmp_path_factory.mktemp("kserve-models"))


@pytest.fixture(scope="module")
def server(registry, tmp_path_factory):
    with processes.start_kserve(registry.root, tmp_path_factory.mktemp("kserve-logs")) as s:
        yield s


@pytest.fixture(scope="module")
def readings():
    return samples.readings()


@pytest.fixture(scope="module")
def features(registry):
    return samples.failure_features(registry)


def outputs(body: dict) -> dict[str, dict]:
    return {o["name"]: o for o in body["outputs"]}


def infer(server, model: str, columns: dict) -> dict:
    spec = {"anomaly": ANOMALY_INPUTS, "failure": FAILURE_INPUTS}[model]
    status, body = post_json(f"{server.url}/v2/models/{model}/infer", v2_request(columns, spec))
    assert status == 200, body
    return body


def test_v2_anomaly_scores_equal_the_in_process_detector(server, registry, readings):
    history, new = readings
    detector = AnomalyDetector.load(registry)
    for hist in (history, None):  # with each meter's last 24 h, and without
        expected = detector.score(hist, new)
        body = infer(server, "anomaly", samples.reading_columns(hist, new))
        assert body["model_version"] == registry.promoted("anomaly").manifest.version
        out = outputs(body)
        np.testing.assert_allclose(out["score"]["data"], expected.score, rtol=0, atol=1e-6)
        assert out["score"]["datatype"] == "FP64" and out["score"]["shape"] == [len(new)]
        assert out["is_anomaly"]["data"] == expected.is_anomaly.tolist()
        assert out["anomaly_type"]["data"] == expected.anomaly_type.tolist()
        assert out["severity"]["data"] == expected.severity.tolist()
        assert out["meter_ids"]["data"] == new.meter_ids.tolist()
    assert expected.is_anomaly.any() and not expected.is_anomaly.all()  # the sample has both kinds


def test_v2_failure_predictions_equal_the_in_process_predictor(server, registry, features):
    expected = FailurePredictor.load(registry).predict(features)
    out = outputs(infer(server, "failure", {c: features[c].to_numpy() for c in features.columns}))
    np.testing.assert_allclose(out["probability"]["data"], expected.probability, rtol=0, atol=1e-6)
    assert out["alarm"]["data"] == expected.alarm.tolist()
    assert out["top_features"]["shape"] == [len(features), 3]
    top = np.array(out["top_features"]["data"]).reshape(-1, 3).tolist()
    assert top == [[name for name, _ in row] for row in expected.top_features]
    np.testing.assert_allclose(np.reshape(out["top_contributions"]["data"], (-1, 3)),
                               [[c for _, c in row] for row in expected.top_features], rtol=0, atol=1e-6)


def test_v1_predict_takes_rows_and_answers_the_same(server, registry, readings, features):
    history, new = readings
    expected = AnomalyDetector.load(registry).score(history, new)
    request = {"instances": as_json_rows(samples.reading_columns(None, new)),
               "history": as_json_rows(samples.reading_columns(None, history))}
    status, body = post_json(f"{server.url}/v1/models/anomaly:predict", request)
    assert status == 200, body
    np.testing.assert_allclose([p["score"] for p in body["predictions"]], expected.score, rtol=0, atol=1e-6)
    assert [p["anomaly_type"] for p in body["predictions"]] == expected.anomaly_type.tolist()
    some = features.head(5)
    status, body = post_json(f"{server.url}/v1/models/failure:predict",
                             {"instances": as_json_rows({c: some[c].to_numpy() for c in some.columns})})
    assert status == 200, body
    np.testing.assert_allclose([p["probability"] for p in body["predictions"]],
                               FailurePredictor.load(registry).predict(some).probability, rtol=0, atol=1e-6)


# KServe's own gRPC client, run in .venv/kserve (this venv has no kserve): V2 request JSON on stdin,
# output tensors as JSON on stdout.
GRPC_CLIENT = """
import asyncio, json, sys
import numpy as np
from kserve import InferenceGRPCClient, InferInput, InferRequest

async def main(address, model, body):
    inputs = []
    for t in body["inputs"]:
        tensor = InferInput(t["name"], t["shape"], t["datatype"])
        tensor.set_data_from_numpy(np.array([np.nan if v is None else v for v in t["data"]],
                                            dtype=np.int64 if t["datatype"] == "INT64" else np.float64))
        inputs.append(tensor)
    client = InferenceGRPCClient(address)
    try:
        reply = await client.infer(InferRequest(model_name=model, infer_inputs=inputs))
    finally:
        await client.close()
    print(json.dumps({o.name: o.as_numpy().tolist() for o in reply.outputs if o.datatype != "BYTES"}))

asyncio.run(main(sys.argv[1], sys.argv[2], json.load(sys.stdin)))
"""


def test_v2_grpc_answers_the_same(server, registry, readings):
    history, new = readings
    expected = AnomalyDetector.load(registry).score(history, new)
    done = subprocess.run([str(processes.KSERVE_PYTHON), "-c", GRPC_CLIENT, server.grpc_address, "anomaly"],
                          input=json.dumps(v2_request(samples.reading_columns(history, new), ANOMALY_INPUTS)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    np.testing.assert_allclose(out["score"], expected.score, rtol=0, atol=1e-6)
    assert out["anomaly_type"] == expected.anomaly_type.tolist()


def test_metadata_names_our_columns(server):
    status, body = get_json(f"{server.url}/v2/models/failure")
    assert status == 200, body
    assert [i["name"] for i in body["inputs"]] == [t.name for t in FAILURE_INPUTS]
    assert {o["name"] for o in body["outputs"]} >= {"probability", "alarm", "top_features"}


@pytest.mark.parametrize("mutate, says", [
    (lambda req: req["inputs"].pop(4), "missing input(s) voltage_v"),
    (lambda req: req["inputs"][4].update(name="voltage"), "unknown input(s) voltage"),
    (lambda req: req["inputs"][4].update(data=req["inputs"][4]["data"][:-1], shape=[7]), "differ in length"),
    (lambda req: req["inputs"][4].update(shape=[9]), "input voltage_v"),  # data does not fill its shape
    (lambda req: req["inputs"][0].update(datatype="FP64", data=[1.5] * 8), "meter_ids must hold integers"),
    (lambda req: req["inputs"][4].update(datatype="BYTES", data=["high"] * 8), "voltage_v must hold numbers"),
])
def test_malformed_v2_request_is_a_400_saying_what_is_wrong(server, readings, mutate, says):
    _, new = readings
    request = v2_request(samples.reading_columns(None, new), ANOMALY_INPUTS)
    mutate(request)
    status, body = post_json(f"{server.url}/v2/models/anomaly/infer", request)
    assert status == 400, body
    assert says in body["error"], body


def test_malformed_v1_request_is_a_400(server):
    status, body = post_json(f"{server.url}/v1/models/failure:predict", {"rows": []})
    assert status == 400, body
    assert "instances" in body["error"], body
