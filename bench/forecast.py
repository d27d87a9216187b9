"""GetDemandForecast latency over gRPC against the real service (PostgreSQL, Kafka, promoted
Prophet + LSTM models for the network and every region): each request computes a fresh 72 h
forecast (refresh) and stores it, the slow path. The network request is the heaviest: the sum of
five region forecasts. A region (one model) and cached answers (a stored run that covers the
request) are measured too.

Figures: forecast_p50_ms, forecast_p99_ms (computed, network), forecast_region_p99_ms,
forecast_cached_p99_ms; the load average when measured. Target: p99 < 200 ms.
"""

import os
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp

from forecast_svc.model import DemandModel
from forecast_svc.scopes import TIMEZONES, network, region
from forecast_svc.training import register
from meters.forecast.v1 import forecast_run_pb2 as run_pb
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
        for scope in (network(), *(region(code) for code in TIMEZONES)):
            register(registry, DemandModel.fit(series, scope), series)
        os.environ["METERS_MODEL_REGISTRY"] = str(registry.root)
        with LocalStack(Path(tmp) / "stack") as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn, stack.kafka_bootstrap,
                                                           port_base=44000) as mesh:
            mesh.start("forecast", timeout_s=120)
            return measure(mesh.grpc_addr("forecast"), int(series["ds"].iloc[-1].timestamp()))


def measure(addr: str, last_unix_s: int) -> dict[str, float]:
    with grpc.insecure_channel(addr) as ch:
        stub = forecast_service_pb2_grpc.ForecastServiceStub(ch)
        start = Timestamp(seconds=last_unix_s)

        def call(refresh: bool, scope: int = run_pb.FORECAST_SCOPE_NETWORK, scope_id: str = "") -> float:
            t = time.perf_counter()
            stub.GetDemandForecast(pb.GetDemandForecastRequest(
                scope=scope, scope_id=scope_id, horizon_hours=72, start_time=start, refresh=refresh))
            return (time.perf_counter() - t) * 1000

        for _ in range(5):  # warm-up: model load, connections
            call(True)
            call(True, run_pb.FORECAST_SCOPE_REGION, "NSW")
        load_before = os.getloadavg()[0]
        computed = np.array([call(True) for _ in range(REQUESTS)])
        one_model = np.array([call(True, run_pb.FORECAST_SCOPE_REGION, "NSW") for _ in range(REQUESTS)])
        cached = np.array([call(False) for _ in range(REQUESTS)])
    figures = {
        "forecast_p50_ms": round(float(np.percentile(computed, 50)), 1),
        "forecast_p99_ms": round(float(np.percentile(computed, 99)), 1),
        "forecast_region_p99_ms": round(float(np.percentile(one_model, 99)), 1),
        "forecast_cached_p99_ms": round(float(np.percentile(cached, 99)), 1),
        "forecast_bench_load_avg": round((load_before + os.getloadavg()[0]) / 2, 1),
    }
    print(f"   GetDemandForecast 72 h: {figures}", flush=True)
    return figures


if __name__ == "__main__":
    print(run())
