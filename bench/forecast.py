"""GetDemandForecast latency over gRPC against the real service (PostgreSQL, Kafka, a promoted
Prophet + LSTM model): each request computes a fresh 72 h forecast (refresh) and stores it, the
slow path; cached answers (a stored run that covers the request) are measured too.

Figures: forecast_p50_ms, forecast_p99_ms (computed), forecast_cached_p99_ms. Target: p99 < 200 ms.
"""

import os
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

from forecast_svc.model import DemandModel
from forecast_svc.scopes import network
from forecast_svc.training import register
from meters.forecast.v1 import forecast_service_pb2 as pb
from meters.forecast.v1 import forecast_service_pb2_grpc
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh
from meters.model_registry import ModelRegistry
from tests.test_forecast_model import synthetic

REQUESTS = int(os.environ.get("BENCH_FORECAST_REQUESTS", 200))


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-forecast-") as tmp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        registry = ModelRegistry(Path(tmp) / "models")
        series = synthetic(days=21)
        register(registry, DemandModel.fit(series, network()), series)
        os.environ["METERS_MODEL_REGISTRY"] = str(registry.root)
        with LocalStack(Path(tmp) / "stack") as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn, stack.kafka_bootstrap,
                                                           port_base=44000) as mesh:
            mesh.start("forecast", timeout_s=120)
            return measure(mesh.grpc_addr("forecast"), int(series["ds"].iloc[-1].timestamp()))


def measure(addr: str, last_unix_s: int) -> dict[str, float]:
    with grpc.insecure_channel(addr) as ch:
        stub = forecast_service_pb2_grpc.ForecastServiceStub(ch)
        start = Timestamp(seconds=last_unix_s)

        def call(refresh: bool) -> float:
            t = time.perf_counter()
            stub.GetDemandForecast(pb.GetDemandForecastRequest(horizon_hours=72, start_time=start, refresh=refresh))
            return (time.perf_counter() - t) * 1000

        for _ in range(5):  # warm-up: model load, connections
            call(True)
        computed = np.array([call(True) for _ in range(REQUESTS)])
        cached = np.array([call(False) for _ in range(REQUESTS)])
    figures = {
        "forecast_p50_ms": round(float(np.percentile(computed, 50)), 1),
        "forecast_p99_ms": round(float(np.percentile(computed, 99)), 1),
        "forecast_cached_p99_ms": round(float(np.percentile(cached, 99)), 1),
    }
    print(f"   GetDemandForecast 72 h: {figures}", flush=True)
    return figures


if __name__ == "__main__":
    print(run())
