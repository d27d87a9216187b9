"""One-reading anomaly scoring through KServe's and BentoML's own servers, beside the same model in-process.

Each call scores one new reading with its meter's 24 h of history (96 readings) in the request:
a model server keeps no state, so the history travels with the reading (scoring_svc keeps it in
memory instead). KServe: Open Inference Protocol V2 REST, `POST /v2/models/anomaly/infer`;
BentoML: `POST /anomaly`; both over one kept-alive HTTP connection, request bodies encoded
beforehand, the answer's JSON decoded in the timed span. In-process: AnomalyDetector.score on
the same arrays, which is what both servers call underneath. The servers run one after the
other, never beside each other, on this 2-core machine.

Figures: serving_{kserve,bentoml,inprocess}_anomaly_{p50,p99}_ms, serving_load_avg_1m_{before,after}.
Models: the promoted ones of METERS_MODEL_REGISTRY (else ./models); quick ones trained into a
temporary registry when none is promoted. BENCH_SERVING_CALLS sets the calls per path (1,000).
"""

import http.client
import json
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from meters.readings import ReadingColumns
from model_serving import processes, samples
from model_serving.columns import ANOMALY_INPUTS, as_json_columns, v2_request
from model_serving.served import settled
from scoring_svc.models.anomaly import AnomalyDetector

CALLS = int(os.environ.get("BENCH_SERVING_CALLS", 1000))
WARM_UP = 50


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        registry = samples.promoted_or_quick(Path(tmp))
        calls = _one_reading_calls(samples.readings(count=16))
        figures: dict[str, float] = {"serving_load_avg_1m_before": round(os.getloadavg()[0], 2)}
        detector = settled(AnomalyDetector.load(registry))
        print(f"   in-process: {CALLS} calls of AnomalyDetector.score {detector.version}", flush=True)
        figures.update(_figures("inprocess", _timed(lambda c: detector.score(*c), calls)))
        bodies = [v2_request(samples.reading_columns(h, n), ANOMALY_INPUTS) for h, n in calls]
        with processes.start_kserve(registry.root, Path(tmp)) as server:
            print(f"   kserve: {CALLS} calls of POST /v2/models/anomaly/infer at {server.url}", flush=True)
            figures.update(_figures("kserve", _over_http(server.url, "/v2/models/anomaly/infer", bodies)))
        bodies = [as_json_columns(samples.reading_columns(h, n)) for h, n in calls]
        with processes.start_bentoml(registry.root, Path(tmp)) as server:
            print(f"   bentoml: {CALLS} calls of POST /anomaly at {server.url}", flush=True)
            figures.update(_figures("bentoml", _over_http(server.url, "/anomaly", bodies)))
        figures["serving_load_avg_1m_after"] = round(os.getloadavg()[0], 2)  # 2 cores: above ~1.5 the tail is others'
        return figures


def _one_reading_calls(sample: tuple[ReadingColumns, ReadingColumns]) -> list[tuple[ReadingColumns, ReadingColumns]]:
    """(history, new) per call: one reading and its meter's readings of the 24 h before."""
    history, new = sample
    return [(history.take(history.meter_ids == new.meter_ids[i]), new.take(np.array([i]))) for i in range(len(new))]


def _timed(call, inputs: list) -> list[float]:
    for i in range(WARM_UP):
        call(inputs[i % len(inputs)])
    took = []
    for i in range(CALLS):
        t = time.perf_counter()
        call(inputs[i % len(inputs)])
        took.append(time.perf_counter() - t)
    return took


def _over_http(url: str, path: str, bodies: list[dict]) -> list[float]:
    address = urlparse(url)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    encoded = [json.dumps(b).encode() for b in bodies]

    def call(body: bytes) -> None:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        reply = conn.getresponse()
        answer = json.loads(reply.read())
        if reply.status != 200:
            raise RuntimeError(f"{url}{path} answered {reply.status}: {answer}")

    try:
        return _timed(call, encoded)
    finally:
        conn.close()


def _figures(path: str, seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    out = {f"serving_{path}_anomaly_p50_ms": round(float(np.median(ms)), 3),
           f"serving_{path}_anomaly_p99_ms": round(float(np.percentile(ms, 99)), 3)}
    print("   " + ", ".join(f"{k} {v}" for k, v in out.items()), flush=True)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
