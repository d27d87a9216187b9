"""Ingest overloaded for a bounded time, with its memory: several times the readings it admits at
once (BENCH_OVERLOAD_STREAMS concurrent streams of BENCH_OVERLOAD_BATCH-reading batches against the
default bound of METERS_MAX_INFLIGHT_READINGS), while the ingest process's RSS is sampled.

Figures: overload_rss_mb_{start,min,max,end} (start: after warm-up, before the load), the offered,
acknowledged and refused readings per second, the refused share, end-to-end stored readings per
second, and overload_lost / overload_duplicated (rows counted in PostgreSQL against what was
acknowledged; refused batches must have left no row). Plot: bench/results/overload_rss.png.
"""

import datetime as dt
import os
import tempfile
import threading
import time
from pathlib import Path

import matplotlib
import numpy as np
import psycopg

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from customer_svc.evaluation import save_figure
from ingest_svc.config import IngestSettings
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest_client import register_meters
from meters.ingest_load import batch_at, overload, slot_time, template
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh
from tests.e2e.readings import meters

STREAMS = int(os.environ.get("BENCH_OVERLOAD_STREAMS", 12))
BATCH = int(os.environ.get("BENCH_OVERLOAD_BATCH", 50_000))
SECONDS = float(os.environ.get("BENCH_OVERLOAD_SECONDS", 30))
RETRY_AFTER_S = os.environ.get("BENCH_OVERLOAD_RETRY_AFTER_S", "0.25")
PLOT = Path(__file__).parent / "results" / "overload_rss.png"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every_s: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.every_s):
            self.samples.append((time.monotonic(), rss_mb(self.pid)))


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-overload-") as tmp:
        Path(tmp).chmod(0o755)
        os.environ["METERS_OVERLOAD_RETRY_AFTER_S"] = RETRY_AFTER_S
        try:
            with LocalStack(Path(tmp) / "stack") as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn,
                                                               stack.kafka_bootstrap) as mesh:
                mesh.start("ingest", "ingest-writer")
                return measure(mesh)
        finally:
            del os.environ["METERS_OVERLOAD_RETRY_AFTER_S"]


def measure(mesh: Mesh) -> dict[str, float]:
    bound = IngestSettings().max_inflight_readings
    with mesh.channel("ingest") as ch, psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        register_meters(ch, meters(1, BATCH))
        stub = ingest_service_pb2_grpc.IngestServiceStub(ch)
        end, base = int(time.time()), template(1, BATCH)
        for k in range(3):  # warm-up: connections, the producer's buffers, the writer's partitions
            stub.StreamReadings(iter([batch_at(base, slot_time(end, k))]), timeout=120)
        sampler = RssSampler(mesh.procs["ingest"].pid)
        sampler.start()
        time.sleep(2)
        started = time.monotonic()
        load = overload(ch, 1, BATCH, STREAMS, SECONDS, end, window=2, first_batch=3)
        last = max(load.acknowledged + load.refused) + 1
        stub.StreamReadings(iter([batch_at(base, slot_time(end, last))]), timeout=120)  # on every partition
        expected = (len(load.acknowledged) + 4) * BATCH
        rows = 0
        while rows < expected and time.monotonic() - started < 900:
            rows = db.execute("SELECT count(*) FROM meters.meter_readings").fetchone()[0]
            time.sleep(0.2)
        stored_s = time.monotonic() - started
        sampler.stopping.set()
        sampler.join()
        distinct = db.execute("SELECT count(DISTINCT (meter_id, reading_time)) FROM meters.meter_readings").fetchone()[0]
        refused_rows = db.execute("SELECT count(*) FROM meters.meter_readings WHERE reading_time = ANY(%s)",
                                  [[_ts(slot_time(end, k)) for k in load.refused]]).fetchone()[0]
    before = [mb for t, mb in sampler.samples if t < started]
    during = [mb for t, mb in sampler.samples if started <= t <= started + load.seconds]
    sent = load.sent * BATCH
    figures = {
        "overload_bound_readings": bound,
        "overload_streams": STREAMS,
        "overload_batch_readings": BATCH,
        "overload_seconds": round(load.seconds, 1),
        "overload_offered_readings_per_s": round(sent / load.seconds),
        "overload_acked_readings_per_s": round(len(load.acknowledged) * BATCH / load.seconds),
        "overload_refused_readings_per_s": round(len(load.refused) * BATCH / load.seconds),
        "overload_refused_share": round(len(load.refused) / max(load.sent, 1), 3),
        "overload_refusals": load.refusals,
        "overload_other_errors": len(load.errors),
        "overload_stored_readings_per_s": round(rows / stored_s),
        "overload_lost": expected - distinct,
        "overload_duplicated": rows - distinct,
        "overload_refused_rows_stored": refused_rows,
        "overload_rss_mb_start": round(float(np.median(before)), 1) if before else float("nan"),
        "overload_rss_mb_min": round(min(during), 1),
        "overload_rss_mb_max": round(max(during), 1),
        "overload_rss_mb_end": round(sampler.samples[-1][1], 1),
    }
    plot(sampler.samples, load, started, bound)
    print(f"   wrote {PLOT}", flush=True)
    return figures


def _ts(unix_s: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix_s, dt.timezone.utc)


def plot(samples: list[tuple[float, float]], load, started: float, bound: int) -> None:
    t = np.array([s[0] for s in samples]) - started
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(t, [s[1] for s in samples], color="tab:blue", label="ingest_svc RSS")
    ax.axvspan(0, load.seconds, color="tab:orange", alpha=0.08, label=f"overload: {STREAMS} streams")
    ax.set_xlabel("seconds from the start of the overload")
    ax.set_ylabel("RSS (MB)", color="tab:blue")
    ax.set_ylim(bottom=0)
    rate = ax.twinx()
    seconds = np.arange(int(np.ceil(load.seconds)) + 1)
    when = np.array([e[0] for e in load.timeline]) - started
    for column, color, name in ((1, "tab:green", "acknowledged"), (2, "tab:red", "refused")):
        counts = np.array([e[column] for e in load.timeline]) * load.meters
        per_s = np.histogram(when, bins=np.append(seconds, seconds[-1] + 1), weights=counts)[0]
        rate.step(seconds, per_s / 1000, where="post", color=color, label=f"{name} (k readings/s)")
    rate.set_ylabel("k readings / s")
    rate.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()[0] + rate.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], loc="lower right", fontsize=8)
    ax.set_title(f"ingest under overload: bound {bound:,} readings in flight, batches of {load.meters:,}")
    save_figure(fig, PLOT)
