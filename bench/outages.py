"""Meter events and outage detection at the plan's fleet size (1.2 M meters), on the real mesh.

The network of a 1.2 M-meter synthetic fleet is registered with ingest and scoring (meters, feeders,
transformers, connections); then a storm: every meter of STORM_SHARE of the feeders loses supply,
their last gasps (a fifth lost, as when radios die too) stream through IngestMeterEvents with event
times of now, and a minute later their power-on events.

Figures: outage_events_per_s (ingest -> Kafka -> writer -> rows committed in meters.meter_events),
outage_events_acked_per_s (the gRPC side), outage_detection_latency_s_median / _max (from the last
gasp of the storm acknowledged to each feeder outage seen in grid.outages: the detector's 30 s
correlation window included, by design), outage_restore_latency_s_median (power-on events acked to
the outage restored, its 60 s settling included), outage_feeders_detected vs outage_feeders_out.
"""

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg

from meters.deadlines import STREAM_S
from meters.fleet import FleetConfig, generate_topology
from meters.fleet_registration import ServiceChannels, register_fleet
from meters.ingest.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from meters.ingest.v1.meter_event_pb2 import MeterEvent, MeterEventBatch, MeterEventType as T
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh

METERS = int(os.environ.get("BENCH_OUTAGE_METERS", 1_200_000))
STORM_SHARE = float(os.environ.get("BENCH_OUTAGE_STORM_SHARE", 0.05))
BATCH = 5_000
GASP_LOST = 0.2


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-outages-") as tmp:
        Path(tmp).chmod(0o755)
        with LocalStack(Path(tmp) / "stack") as stack, Mesh(Path(tmp) / "mesh", stack.pg_dsn, stack.kafka_bootstrap,
                                                           port_base=45000) as mesh:
            # scoring without its readings consumer: only the outage detector works here
            mesh.start("ingest", "ingest-writer", "scoring", env={"METERS_GROUP_ID": ""})
            return measure(mesh)


def _events(meter_ids: np.ndarray, kind: int, t0_ms: int, spread_ms: int, tag: str, rng) -> list:
    times = t0_ms + rng.integers(0, spread_ms, len(meter_ids))
    order = np.argsort(times, kind="stable")
    return [MeterEvent(event_id=f"{tag}-{m}", meter_id=int(m), type=kind, event_time_unix_ms=int(t))
            for m, t in zip(meter_ids[order], times[order])]


def _stream(ch, events: list) -> float:
    """Send in batches; seconds until the last batch was acknowledged (accepted into Kafka)."""
    stub = ingest_service_pb2_grpc.IngestServiceStub(ch)
    reqs = (ingest_service_pb2.StreamMeterEventsRequest(batch=MeterEventBatch(events=events[i:i + BATCH]))
            for i in range(0, len(events), BATCH))
    started = time.perf_counter()
    reply = stub.StreamMeterEvents(reqs, timeout=STREAM_S)
    assert reply.summary.accepted == len(events), reply.summary
    return time.perf_counter() - started


def _watch(db, outage_sql: str, outages: int, events: int, started: float, timeout_s: float = 600):
    """(seconds after `started` at which each outage of `outage_sql` was first seen, seconds at which
    meters.meter_events held `events` rows)."""
    first, stored_at = {}, None
    while (len(first) < outages or stored_at is None) and time.perf_counter() - started < timeout_s:
        now = time.perf_counter() - started
        for (oid,) in db.execute(outage_sql).fetchall():
            first.setdefault(oid, now)
        if stored_at is None and db.execute("SELECT count(*) FROM meters.meter_events").fetchone()[0] >= events:
            stored_at = now
        time.sleep(0.2)
    return sorted(first.values()), stored_at


def measure(mesh: Mesh) -> dict[str, float]:
    rng = np.random.default_rng(5)
    t0 = time.perf_counter()
    topology = generate_topology(FleetConfig(meters=METERS, days=1, seed=5))
    feeders = topology.feeders
    out = rng.choice(feeders["feeder_id"].to_numpy(), max(1, int(len(feeders) * STORM_SHARE)), replace=False)
    tx = topology.transformers
    storm_tx = tx.loc[tx["feeder_id"].isin(out), "transformer_id"].to_numpy()
    storm_meters = topology.meters.loc[topology.meters["transformer_id"].isin(storm_tx), "meter_id"].to_numpy()
    print(f"   {METERS:,} meters, {len(feeders):,} feeders ({len(out)} out, {len(storm_meters):,} meters) "
          f"generated in {time.perf_counter() - t0:.0f} s", flush=True)
    with mesh.channel("ingest") as ingest, mesh.channel("scoring") as scoring, \
            psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        t0 = time.perf_counter()
        register_fleet(topology, ServiceChannels(ingest, scoring))
        print(f"   network registered in {time.perf_counter() - t0:.0f} s", flush=True)
        time.sleep(25)  # the detector re-reads the network within 10 s, then builds it
        gasping = storm_meters[rng.random(len(storm_meters)) >= GASP_LOST]
        now_ms = int(time.time() * 1000)
        gasps = _events(gasping, T.METER_EVENT_TYPE_POWER_OFF, now_ms - 20_000, 20_000, "off", rng)
        started = time.perf_counter()
        acked_s = _stream(ingest, gasps)
        feeder_sql = "SELECT outage_id FROM grid.outages WHERE level = 'feeder'"
        opened, stored_s = _watch(db, feeder_sql, len(out), len(gasps), started)
        opened = [t - acked_s for t in opened]  # from the storm's last gasp acknowledged
        now_ms = int(time.time() * 1000)
        restores = _events(storm_meters, T.METER_EVENT_TYPE_POWER_ON, now_ms - 60_000, 60_000, "on", rng)
        started = time.perf_counter()
        restore_acked_s = _stream(ingest, restores)
        restored, _ = _watch(db, feeder_sql + " AND restored_at IS NOT NULL", len(out), len(gasps) + len(restores),
                             started)
        restored = [t - restore_acked_s for t in restored]
        rows = db.execute("SELECT count(*) FROM meters.meter_events").fetchone()[0]
    figures = {
        "outage_bench_meters": METERS,
        "outage_feeders_out": len(out),
        "outage_feeders_detected": len(opened),
        "outage_feeders_detected_share": round(len(opened) / len(out), 4),
        "outage_storm_events": len(gasps) + len(restores),
        "outage_events_acked_per_s": round(len(gasps) / acked_s),
        "outage_events_per_s": round(len(gasps) / stored_s) if stored_s else float("nan"),
        "outage_events_stored": rows,
        "outage_detection_latency_s_median": round(float(np.median(opened)), 2) if opened else float("nan"),
        "outage_detection_latency_s_max": round(opened[-1], 2) if opened else float("nan"),
        "outage_restore_latency_s_median": round(float(np.median(restored)), 2) if restored else float("nan"),
        "outage_restore_events_acked_per_s": round(len(restores) / restore_acked_s),
    }
    return figures
