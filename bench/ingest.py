"""End-to-end ingest throughput: gRPC client stream -> ingest_svc -> Kafka ->
writer -> rows committed in PostgreSQL, counted in the database.

Figures: ingest_readings_per_s (sustained, end to end), ingest_lost,
ingest_duplicated, the gRPC-side rate, and CPU seconds per million readings
for each process (the profile of where the time goes).
"""

import os
import tempfile
import time
from pathlib import Path

import psycopg

from bench.cpu import snapshot, used
from meters.deadlines import STREAM_S
from meters.ingest_client import batches, register_meters
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh
from tests.e2e.readings import meters, readings

METERS = int(os.environ.get("BENCH_INGEST_METERS", 20_000))
INTERVALS = int(os.environ.get("BENCH_INGEST_INTERVALS", 96))
BATCH = int(os.environ.get("BENCH_INGEST_BATCH", 10_000))


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        with LocalStack(Path(tmp) / "stack") as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn,
                                                           stack.kafka_bootstrap) as mesh:
            mesh.start("ingest", "ingest-writer")
            return measure(mesh)


def measure(mesh: Mesh) -> dict[str, float]:
    cols = readings(1, METERS, INTERVALS, seed=11)
    requests = list(batches([cols], BATCH))  # built before the clock starts
    with mesh.channel("ingest") as ch, psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        register_meters(ch, meters(1, METERS))
        stub = ingest_service_pb2_grpc.IngestServiceStub(ch)
        pids = {name: proc.pid for name, proc in mesh.procs.items()}
        cpu_before = snapshot(pids)
        started = time.perf_counter()
        reply = stub.StreamReadings(iter(requests), timeout=STREAM_S)
        acked_s = time.perf_counter() - started
        print(f"   gRPC stream acked {reply.summary.accepted:,} readings in {acked_s:.1f} s", flush=True)
        rows = 0
        while rows < reply.summary.accepted and time.perf_counter() - started < 900:
            rows = db.execute("SELECT count(*) FROM meters.meter_readings").fetchone()[0]
            time.sleep(0.1)
        stored_s = time.perf_counter() - started
        cpu = used(cpu_before, snapshot(pids))
        distinct = db.execute("SELECT count(DISTINCT (meter_id, reading_time)) FROM meters.meter_readings").fetchone()[0]
    n = len(cols)
    figures = {
        "ingest_readings_per_s": round(rows / stored_s),
        "ingest_grpc_acked_readings_per_s": round(reply.summary.accepted / acked_s),
        "ingest_readings_total": n,
        "ingest_lost": n - distinct,
        "ingest_duplicated": rows - distinct,
    }
    for name, seconds in cpu.items():
        figures[f"ingest_cpu_s_per_million_{name.replace('-', '_')}"] = round(seconds / n * 1e6, 2)
    return figures
