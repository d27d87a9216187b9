"""Writer consumer-group scaling (issue 16): 1, 2 and 3 members of the `ingest-writer` group, each
count on a stack of its own (one broker, the topic's 6 partitions, PostgreSQL, one ingest process).

Two figures per member count:
- ingest-to-stored: the group formed first (a warm-up call until every member has stored readings),
  then READINGS streamed through ingest, timed from the first send to the last row committed. One
  ingest process feeds every member count, so this is capped by whichever leg is slower.
- backlog drain: the writers stopped, READINGS more ingested into Kafka as a backlog, the members
  started together and timed from their start to the last row committed (the group's forming and
  rebalances included): the writer leg alone, as autoscaling on lag sees it when it adds members.
CPU seconds per million readings of the drain (writers together, PostgreSQL's backends, Kafka) say
where the time went: on this machine PostgreSQL's share bounds what added writer members can bring.

Figures: writer_members_<k>_ingest_to_stored_per_s, writer_members_<k>_drain_per_s,
writer_members_<k>_writer_cpu_s_per_million / _postgres_cpu_s_per_million,
writer_members_<k>_drain_speedup (against one member) and ..._speedup_per_added_core (the speed-up
each added member brings as a share of linear, 1.0 = perfect; this machine has machine_cores cores
for ingest, Kafka, PostgreSQL and the writers together), writer_scaling_lost / _duplicated.
"""

import itertools
import os
import tempfile
import time
from pathlib import Path

import psycopg

from bench.cpu import snapshot, used
from meters.ingest_client import register_meters, stream_readings
from meters.kafka_failover import wait_until
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh
from tests.e2e.metrics import metric
from tests.e2e.readings import interval_end, meters, readings

METERS = int(os.environ.get("BENCH_WRITER_METERS", 40_000))
INTERVALS = int(os.environ.get("BENCH_WRITER_INTERVALS", 96))
MEMBERS = (1, 2, 3)
STORED = "meters_writer_readings_stored_total"


def run() -> dict[str, float]:
    end = interval_end()
    streamed, backlog = (readings(1, METERS, INTERVALS, seed=13, end=end - INTERVALS * 900),
                         readings(1, METERS, INTERVALS, seed=14, end=end))
    warmup = end - 2 * INTERVALS * 900  # warm-up calls: one interval each, counting back from here
    figures: dict[str, float] = {"writer_scaling_readings": len(streamed), "writer_scaling_lost": 0,
                                 "writer_scaling_duplicated": 0}
    for k in MEMBERS:
        measured = measure(k, warmup, streamed, backlog)
        for key in ("writer_scaling_lost", "writer_scaling_duplicated"):
            figures[key] += measured.pop(key)
        figures.update(measured)
    one = figures["writer_members_1_drain_per_s"]
    for k in MEMBERS[1:]:
        speedup = figures[f"writer_members_{k}_drain_per_s"] / one
        figures[f"writer_members_{k}_drain_speedup"] = round(speedup, 2)
        figures[f"writer_members_{k}_drain_speedup_per_added_core"] = round((speedup - 1) / (k - 1), 2)
    return figures


def measure(members: int, warmup: int, streamed, backlog) -> dict[str, float]:
    writers = ["ingest-writer", *(f"ingest-writer#{i}" for i in range(2, members + 1))]
    with tempfile.TemporaryDirectory(prefix="bench-writers-") as tmp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        with LocalStack(Path(tmp) / "stack") as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn,
                                                           stack.kafka_bootstrap) as mesh:
            mesh.start("ingest", *writers)
            with psycopg.connect(mesh.pg_dsn, autocommit=True) as db, mesh.channel("ingest") as ch:
                return _measure(mesh, db, ch, writers, warmup, streamed, backlog)


def _measure(mesh: Mesh, db, ch, writers: list[str], warmup: int, streamed, backlog) -> dict[str, float]:
    members = len(writers)
    stored = lambda: db.execute("SELECT count(*) FROM meters.meter_readings").fetchone()[0]  # noqa: E731
    register_meters(ch, meters(1, METERS))
    warmed = form_group(mesh, ch, writers, warmup)
    wait_until(lambda: stored() == warmed, 900)

    started = time.perf_counter()
    stream_readings(ch, [streamed])
    wait_until(lambda: stored() >= warmed + len(streamed), 900)
    e2e = len(streamed) / (time.perf_counter() - started)

    mesh.stop(*writers)
    stream_readings(ch, [backlog])
    started = time.perf_counter()
    mesh.start(*writers)
    cpu_before = snapshot({w: mesh.procs[w].pid for w in writers})
    total = warmed + len(streamed) + len(backlog)
    wait_until(lambda: stored() >= total, 900)
    drain_s = time.perf_counter() - started
    cpu = used(cpu_before, snapshot({w: mesh.procs[w].pid for w in writers}))
    rows, distinct = db.execute(
        "SELECT count(*), count(DISTINCT (meter_id, reading_time)) FROM meters.meter_readings").fetchone()
    per_million = lambda seconds: round(seconds / len(backlog) * 1e6, 2)  # noqa: E731
    writers_cpu = per_million(sum(cpu[w] for w in writers))
    print(f"   {members} writer member(s): ingest-to-stored {e2e:,.0f} readings/s; backlog of {len(backlog):,}"
          f" drained in {drain_s:.1f} s ({len(backlog) / drain_s:,.0f} readings/s, the group's forming included);"
          f" CPU s per million readings: writers {writers_cpu}, postgres {per_million(cpu['postgres'])},"
          f" kafka {per_million(cpu['kafka'])}", flush=True)
    return {f"writer_members_{members}_ingest_to_stored_per_s": round(e2e),
            f"writer_members_{members}_drain_per_s": round(len(backlog) / drain_s),
            f"writer_members_{members}_writer_cpu_s_per_million": writers_cpu,
            f"writer_members_{members}_postgres_cpu_s_per_million": per_million(cpu["postgres"]),
            "writer_scaling_lost": total - distinct, "writer_scaling_duplicated": rows - distinct}


def form_group(mesh: Mesh, ch, writers: list[str], end: int) -> int:
    """Warm-up calls (one interval of every meter each, counting back from `end`) until every member
    has stored readings, i.e. all have joined and own partitions; the readings sent."""
    sent = 0
    for i in itertools.count():
        if all(metric(mesh, w, STORED) > 0 for w in writers):
            return sent
        assert i < 200, "the writer group never gave every member partitions"
        cols = readings(1, METERS, 1, seed=100 + i, end=end - i * 900)
        stream_readings(ch, [cols])
        sent += len(cols)
        time.sleep(0.5)
    raise AssertionError("unreachable")
