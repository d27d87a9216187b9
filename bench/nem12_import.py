"""NEM12 import end to end: `python -m bench.nem12_import [--intervals N]` (BENCH_NEM12_IMPORT_INTERVALS).

A NEM12 file of about N 30-minute E1 intervals (bench.nem12_parse's generator: NMIs BENCH00000...,
~182 days ending the day before yesterday in NEM time so they are inside the retention window, 2 % of
days with a substituted stretch as V + 400 records) is written first (not timed). Then, on a Kafka,
PostgreSQL, ingest and ingest-writer of the bench's own, its NMIs are registered as meter numbers and
the file is streamed through ImportNem12 in 1 MiB chunks. Timed from the first chunk sent to the last
row committed by the writer (its meters_writer_readings_stored_total, scraped every 0.25 s so that no
count(*) over millions of rows competes with it; count(*) confirms at the end):

- nem12_import_intervals_per_s: end to end (parse + validate + Kafka + PostgreSQL rows committed)
- nem12_import_rpc_seconds: the ImportNem12 call (the file spooled, parsed, validated, acked by Kafka)
- nem12_import_writer_catchup_seconds: from the call's end to the last row committed
- nem12_import_{ingest,writer}_peak_rss_mb: VmHWM of each process at the end (nem12_import_peak_rss_mb
  the larger); *_rss_mb_first_quarter the most RSS in the first quarter of the run: flat memory
  means the two are alike, and a 10 M file peaks like a 2.5 M one
- nem12_import_lost / _duplicated: rows stored (count(*)) against the intervals of the file
- nem12_import_cpu_s_{ingest,writer,postgres,kafka}: CPU seconds each spent over the run

Default N 2,500,000 keeps `make bench` to about a minute; a run of 10 M or more (`--intervals 10000000`, or
`BENCH_NEM12_IMPORT_INTERVALS=10000000 python -m bench.run bench.nem12_import`) also records its main figures as
nem12_import_10m_*, which later default runs leave in bench/results/latest.json.
Plot: bench/results/nem12_import_rss.png.
"""

import argparse
import os
import re
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import matplotlib
import numpy as np
import psutil
import psycopg

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.nem12_parse import write_file
from customer_svc.evaluation import save_figure
from meters.deadlines import CALL_S
from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest.v1.meter_pb2 import Meter
from meters.ingest_client import register_meters
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh
from meters.nem12.nemtime import NEM_OFFSET_S

INTERVALS = int(os.environ.get("BENCH_NEM12_IMPORT_INTERVALS", 2_500_000))
DAYS = 182
CHUNK = 1 << 20
PLOT = Path(__file__).parent / "results" / "nem12_import_rss.png"
GOAL_PER_S, GOAL_RSS_MB = 300_000, 500
TEN_M_KEYS = ("nem12_import_intervals", "nem12_import_seconds", "nem12_import_intervals_per_s",
              "nem12_import_rpc_seconds", "nem12_import_writer_catchup_seconds", "nem12_import_lost",
              "nem12_import_duplicated", "nem12_import_ingest_peak_rss_mb", "nem12_import_writer_peak_rss_mb",
              "nem12_import_writer_rss_mb_first_quarter", "nem12_import_peak_rss_mb")


def _day0(now_s: float) -> int:
    """NEM midnight DAYS + 2 days ago: the file's last interval ends yesterday, NEM time."""
    today = int((now_s + NEM_OFFSET_S) // 86400) * 86400 - NEM_OFFSET_S
    return today - (DAYS + 1) * 86400


def _e1(_: int) -> list[tuple[str, int]]:
    return [("E1", 30)]


class Sampler(threading.Thread):
    """RSS of the processes and the writer's stored-readings counter, every `every_s`."""

    def __init__(self, pids: dict[str, int], metrics_url: str, every_s: float = 0.25):
        super().__init__(daemon=True)
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.url, self.every_s = metrics_url, every_s
        self.samples: list[tuple[float, dict[str, float], float]] = []  # (t, rss MB by name, stored)
        self.stopping = threading.Event()

    def stored(self) -> float:
        text = urllib.request.urlopen(self.url, timeout=5).read().decode()
        found = re.search(r"^meters_writer_readings_stored_total (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    def run(self) -> None:
        while not self.stopping.wait(self.every_s):
            rss = {name: p.memory_info().rss / 2**20 for name, p in self.procs.items()}
            self.samples.append((time.monotonic(), rss, self.stored()))


def stack_pids(mesh: Mesh, stack: LocalStack) -> dict[str, int]:
    """The processes whose CPU the import spends: the two services, PostgreSQL's postmaster, Kafka's JVM."""
    pids = {"ingest": mesh.procs["ingest"].pid, "writer": mesh.procs["ingest-writer"].pid}
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if str(stack.base_dir) in line:
            if "postgres" in line and " -D " in line:
                pids["postgres"] = proc.pid
            elif "kafka.Kafka" in line:
                pids["kafka"] = proc.pid
    return pids


def cpu_s(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) of each process and its live children (PostgreSQL's backends)."""
    out = {}
    for name, pid in pids.items():
        proc = psutil.Process(pid)
        out[name] = sum(sum(p.cpu_times()[:2]) for p in [proc, *proc.children(recursive=True)])
    return out


def vm_hwm_mb(pid: int) -> float:
    """The process's peak resident set (kernel-kept, so no sample can miss it)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def chunks(path: Path, name: str, sent: list[float]):
    with open(path, "rb") as f:
        first = True
        while data := f.read(CHUNK):
            if first:
                sent.append(time.monotonic())
            yield pb.ImportNem12Request(file_name=name if first else "", chunk=data)
            first = False


def run(intervals: int = INTERVALS) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-nem12-import-") as tmp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        path = Path(tmp) / "NEM12#BENCHIMPORT#BENCHMDP#METERS.csv"
        started = time.perf_counter()
        day0 = _day0(time.time())
        written = write_file(path, intervals, day0=day0, days=DAYS, channels=_e1)
        write_s = time.perf_counter() - started
        print(f"   wrote {written:,} intervals, {path.stat().st_size / 2**20:,.1f} MB in {write_s:.0f} s", flush=True)
        with LocalStack(Path(tmp) / "stack") as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn,
                                                           stack.kafka_bootstrap) as mesh:
            mesh.start("ingest", "ingest-writer")
            figures = measure(mesh, stack_pids(mesh, stack), path, written)
    figures["nem12_import_file_write_s"] = round(write_s, 1)
    if intervals >= 10_000_000:  # kept in latest.json under keys of their own: `make bench` runs the default N
        figures |= {key.replace("nem12_import_", "nem12_import_10m_"): figures[key] for key in TEN_M_KEYS}
    report(figures)
    return figures


def measure(mesh: Mesh, cpu_pids: dict[str, int], path: Path, intervals: int) -> dict[str, float]:
    nmis = intervals // (DAYS * 48) + 1
    pids = {"ingest": mesh.procs["ingest"].pid, "ingest-writer": mesh.procs["ingest-writer"].pid}
    with mesh.channel("ingest") as ch, psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        register_meters(ch, (Meter(meter_id=i + 1, meter_number=f"BENCH{i:05d}") for i in range(nmis)))
        stub = ingest_service_pb2_grpc.IngestServiceStub(ch)
        sampler = Sampler(pids, f"http://127.0.0.1:{mesh.metrics_port('ingest-writer')}/metrics")
        before = sampler.stored()
        sampler.start()
        time.sleep(1.0)
        sent: list[float] = []
        cpu_before = cpu_s(cpu_pids)
        summary = stub.ImportNem12(chunks(path, path.name, sent), timeout=max(CALL_S, 3600)).summary
        rpc_end = time.monotonic()
        accepted = summary.summary.accepted
        while sampler.stored() - before < accepted and time.monotonic() - rpc_end < 1800:
            time.sleep(0.1)
        stored_at = time.monotonic()
        cpu_after = cpu_s(cpu_pids)
        time.sleep(0.5)
        sampler.stopping.set()
        sampler.join()
        hwm = {name: vm_hwm_mb(pid) for name, pid in pids.items()}
        stored = db.execute("SELECT count(*) FROM meters.meter_readings").fetchone()[0]
        rejected = db.execute("SELECT count(*) FROM meters.rejected_readings").fetchone()[0]
    start = sent[0]
    seconds, rpc_s = stored_at - start, rpc_end - start
    assert summary.intervals == intervals and summary.problem_count == 0, summary
    figures = {
        "nem12_import_intervals": float(intervals),
        "nem12_import_file_mb": round(path.stat().st_size / 2**20, 1),
        "nem12_import_nmis": nmis,
        "nem12_import_seconds": round(seconds, 2),
        "nem12_import_intervals_per_s": round(intervals / seconds),
        "nem12_import_rpc_seconds": round(rpc_s, 2),
        "nem12_import_rpc_intervals_per_s": round(intervals / rpc_s),
        "nem12_import_writer_catchup_seconds": round(seconds - rpc_s, 2),
        "nem12_import_accepted": accepted,
        "nem12_import_rejected_rows": rejected,
        "nem12_import_lost": max(intervals - stored, 0),
        "nem12_import_duplicated": max(stored - intervals, 0),
    }
    for name in cpu_pids:  # where the box's two cores went, from the last sample before the first chunk
        figures[f"nem12_import_cpu_s_{name}"] = round(cpu_after[name] - cpu_before[name], 1)
    quarter = start + seconds / 4
    for name, key in (("ingest", "ingest"), ("ingest-writer", "writer")):
        early = [rss[name] for t, rss, _ in sampler.samples if start <= t <= quarter]
        figures[f"nem12_import_{key}_rss_mb_start"] = round(sampler.samples[0][1][name], 1)
        figures[f"nem12_import_{key}_rss_mb_first_quarter"] = round(max(early), 1) if early else float("nan")
        figures[f"nem12_import_{key}_peak_rss_mb"] = round(hwm[name], 1)
    figures["nem12_import_peak_rss_mb"] = max(figures["nem12_import_ingest_peak_rss_mb"],
                                              figures["nem12_import_writer_peak_rss_mb"])
    plot(sampler.samples, start, rpc_s, seconds, intervals, before)
    print(f"   wrote {PLOT}", flush=True)
    return figures


def report(figures: dict[str, float]) -> None:
    for key, value in figures.items():
        print(f"   {key:44s} {value:>16,.2f}", flush=True)
    rate, rss = figures["nem12_import_intervals_per_s"], figures["nem12_import_peak_rss_mb"]
    print(f"   goals: >= {GOAL_PER_S:,} intervals/s end to end (ratio {rate / GOAL_PER_S:.2f}), peak RSS <= "
          f"{GOAL_RSS_MB} MB (ratio {rss / GOAL_RSS_MB:.2f}), 0 lost, 0 duplicated", flush=True)


def plot(samples, start: float, rpc_s: float, seconds: float, intervals: int, before: float) -> None:
    t = np.array([s[0] for s in samples]) - start
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, color in (("ingest", "tab:blue"), ("ingest-writer", "tab:purple")):
        ax.plot(t, [s[1][name] for s in samples], color=color, label=f"{name} RSS")
    ax.axhline(GOAL_RSS_MB, color="tab:red", linestyle=":", label=f"goal {GOAL_RSS_MB} MB")
    ax.axvline(rpc_s, color="grey", linestyle="--", label="ImportNem12 returned")
    ax.set_xlabel("seconds from the first chunk sent")
    ax.set_ylabel("RSS (MB)")
    peak = max(max(s[1].values()) for s in samples)
    ax.set_ylim(0, max(GOAL_RSS_MB * 1.3, peak * 1.15))  # room for the legend above the lines
    rows = ax.twinx()
    rows.plot(t, (np.array([s[2] for s in samples]) - before) / 1e6, color="tab:green", label="rows committed (M)")
    rows.set_ylabel("rows committed in PostgreSQL (millions)")
    rows.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()[0] + rows.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], loc="upper left", ncol=3, fontsize=8)
    ax.set_title(f"NEM12 import of {intervals / 1e6:.1f} M intervals: {intervals / seconds / 1000:,.0f} k/s end to end")
    save_figure(fig, PLOT)


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--intervals", type=int, default=INTERVALS)
    run(ap.parse_args(argv).intervals)


if __name__ == "__main__":
    main(sys.argv[1:])
