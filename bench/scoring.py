"""Scoring latency and throughput over gRPC against a running scoring_svc process.

Figures: scoring_p99_ms (one reading per ScoreReadings call, target < 10 ms),
scoring_batch_readings_per_s (10,000-reading batches), failure_p99_ms (PredictTransformerFailure,
when a failure model is promoted). Models: METERS_MODEL_REGISTRY (a registry with promoted models);
when it has no promoted anomaly model (a fresh clone), quick ones are trained first (~10 s).
"""

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from meters.deadlines import CALL_S, QUERY_S
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh
from meters.model_registry import DEFAULT_ROOT, ModelNotFound, ModelRegistry
from meters.readings import to_batch
from meters.scoring.v1 import scoring_service_pb2 as pb, scoring_service_pb2_grpc, transformer_pb2
from tests.e2e.readings import readings

CALLS = int(os.environ.get("BENCH_SCORING_CALLS", 2000))


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as tmp:
        Path(tmp).chmod(0o755)
        with LocalStack(Path(tmp) / "stack") as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn, stack.kafka_bootstrap,
                                                           port_base=44000) as mesh:
            mesh.start("scoring", env={"METERS_MODEL_REGISTRY": str(_registry(Path(tmp)))})
            return measure(mesh)


def _registry(tmp: Path) -> Path:
    """The registry with a promoted anomaly model, or one of quick models trained here."""
    try:
        ModelRegistry(DEFAULT_ROOT).promoted("anomaly")
        return DEFAULT_ROOT
    except ModelNotFound:
        from model_serving import samples  # trains with the fleet: only imported when needed
        print(f"   no promoted anomaly model in {DEFAULT_ROOT}: training quick ones", flush=True)
        return samples.quick_registry(tmp).root


def _p99(seconds: list[float]) -> float:
    return round(float(np.percentile(np.array(seconds) * 1000, 99)), 3)


def measure(mesh: Mesh) -> dict[str, float]:
    figures: dict[str, float] = {"scoring_load_avg_1m_before": round(os.getloadavg()[0], 2)}
    with mesh.channel("scoring") as ch:
        stub = scoring_service_pb2_grpc.ScoringServiceStub(ch)
        one = [pb.ScoreReadingsRequest(batch=to_batch(readings(1 + i % 500, 1, 1, seed=i))) for i in range(CALLS)]
        for r in one[:50]:
            stub.ScoreReadings(r, timeout=QUERY_S)  # warm-up
        took = []
        for r in one:
            t = time.perf_counter()
            stub.ScoreReadings(r, timeout=QUERY_S)
            took.append(time.perf_counter() - t)
        figures["scoring_p99_ms"] = _p99(took)
        figures["scoring_p50_ms"] = round(float(np.median(took)) * 1000, 3)
        big = readings(1, 2000, 5, seed=3)
        req = pb.ScoreReadingsRequest(batch=to_batch(big))
        stub.ScoreReadings(req, timeout=QUERY_S)
        t, n = time.perf_counter(), 0
        while time.perf_counter() - t < 10:
            stub.ScoreReadings(req, timeout=QUERY_S)
            n += len(big)
        figures["scoring_batch_readings_per_s"] = round(n / (time.perf_counter() - t))
        if stub.ReloadModels(pb.ReloadModelsRequest(), timeout=CALL_S).failure_model_version:
            stub.BatchCreateTransformers(pb.BatchCreateTransformersRequest(transformers=[
                transformer_pb2.Transformer(transformer_id=1, capacity_kva=200, age_years=20)]), timeout=CALL_S)
            hours = np.arange(192)  # the 8 days of hourly telemetry the failure features read
            load = 120 + 30 * np.sin(hours / 24 * 2 * np.pi)
            stub.RecordTransformerTelemetry(pb.RecordTransformerTelemetryRequest(
                batch=transformer_pb2.TransformerTelemetryBatch(
                    transformer_ids=[1] * len(hours), hour_end_unix_s=(int(time.time()) // 3600 * 3600
                                                                       - 3600 * hours[::-1]).tolist(),
                    load_kva=load.tolist(), peak_load_kva=(1.2 * load).tolist(), ambient_temp_c=[20.0] * len(hours),
                    oil_temp_c=(40 + 0.15 * load).tolist(), winding_temp_c=(55 + 0.2 * load).tolist(),
                    efficiency=[0.985] * len(hours))), timeout=CALL_S)
            took = []
            for _ in range(200):
                t = time.perf_counter()
                stub.PredictTransformerFailure(pb.PredictTransformerFailureRequest(name="transformers/1"),
                                               timeout=QUERY_S)
                took.append(time.perf_counter() - t)
            figures["failure_p99_ms"] = _p99(took)
            figures["failure_p50_ms"] = round(float(np.median(took)) * 1000, 3)
    figures["scoring_load_avg_1m_after"] = round(os.getloadavg()[0], 2)  # 2 cores: above ~1.5 the tail is others'
    return figures
