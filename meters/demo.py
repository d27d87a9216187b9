"""`make demo`: the local mesh on real Kafka and PostgreSQL, a synthetic fleet
streamed through ingest, and a short report of what happened."""

import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from meters.fleet import FleetConfig, generate_topology, iter_reading_chunks
from meters.ingest.v1 import meter_pb2
from meters.ingest.v1.reading_pb2 import RejectionReason
from meters.ingest_client import channel, register_meters, stream_readings
from meters.mesh import SERVICES, Mesh
from meters.readings import from_arrays

console = Console()


@dataclass
class DemoResult:
    readings_sent: int
    accepted: int
    rejected: dict[str, int]
    ingest_seconds: float
    stored_seconds: float
    rows_stored: int
    rows_rejected_stored: int


def available_services() -> list[str]:
    return [name for name, spec in SERVICES.items() if importlib.util.find_spec(spec.module.split(".")[0])]


def fleet_meters(topology) -> list[meter_pb2.Meter]:
    m = topology.meters
    return [
        meter_pb2.Meter(meter_id=int(i), meter_number=str(num), customer_id=int(c), transformer_id=int(t),
                        meter_type=str(mt), installed_at_unix_s=int(inst))
        for i, num, c, t, mt, inst in zip(m.meter_id, m.meter_number, m.customer_id, m.transformer_id,
                                          m.meter_type, m.installed_at_unix_s)
    ]


def stream_fleet(mesh: Mesh, cfg: FleetConfig) -> DemoResult:
    topology = generate_topology(cfg)
    with channel(mesh.grpc_addr("ingest")) as ch:
        register_meters(ch, fleet_meters(topology))
        expected = cfg.meters * cfg.days * (1440 // cfg.interval_minutes)
        sent = 0
        with Progress(TextColumn("streaming readings"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=console) as progress:
            task = progress.add_task("stream", total=expected)

            def chunks():
                nonlocal sent
                for chunk in iter_reading_chunks(cfg, topology):
                    cols = from_arrays(**{n: getattr(chunk, n) for n in (
                        "meter_ids", "reading_times_unix_s", "consumption_kwh", "demand_kw", "voltage_v",
                        "current_a", "power_factor")})
                    sent += len(cols)
                    progress.update(task, completed=sent)
                    yield cols

            started = time.perf_counter()
            reply = stream_readings(ch, chunks())
            ingest_s = time.perf_counter() - started
            progress.update(task, total=sent)  # the fleet plants missing intervals
    rows, rejected_rows = wait_until_stored(mesh.pg_dsn, reply.summary.accepted, reply.summary.rejected)
    return DemoResult(
        readings_sent=sent, accepted=reply.summary.accepted,
        rejected={RejectionReason.Name(rc.reason).removeprefix("REJECTION_REASON_").lower(): rc.count
                  for rc in reply.summary.rejections},
        ingest_seconds=ingest_s, stored_seconds=time.perf_counter() - started,
        rows_stored=rows, rows_rejected_stored=rejected_rows,
    )


def wait_until_stored(dsn: str, accepted: int, rejected: int, timeout_s: float = 600) -> tuple[int, int]:
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(dsn) as conn:
        while True:
            rows = conn.execute("SELECT count(*) FROM meters.meter_readings").fetchone()[0]
            bad = conn.execute("SELECT count(*) FROM meters.rejected_readings").fetchone()[0]
            conn.commit()
            if (rows >= accepted and bad >= rejected) or time.monotonic() > deadline:
                return rows, bad
            time.sleep(0.25)


def report(result: DemoResult) -> None:
    table = Table(title="Synthetic fleet through the mesh")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("readings sent", f"{result.readings_sent:,}")
    table.add_row("accepted", f"{result.accepted:,}")
    for reason, count in sorted(result.rejected.items()):
        table.add_row(f"rejected: {reason}", f"{count:,}")
    table.add_row("ingest rate (gRPC, acked by Kafka)", f"{result.readings_sent / result.ingest_seconds:,.0f} readings/s")
    table.add_row("end-to-end rate (rows committed)", f"{result.rows_stored / result.stored_seconds:,.0f} readings/s")
    table.add_row("rows in meters.meter_readings", f"{result.rows_stored:,}")
    table.add_row("rows in meters.rejected_readings", f"{result.rows_rejected_stored:,}")
    console.print(table)


def run(meters: int, days: int, seed: int, run_dir: Path) -> DemoResult:
    from meters.localstack.stack import LocalStack

    with LocalStack(run_dir / "stack") as stack, Mesh(run_dir / "mesh", stack.pg_dsn, stack.kafka_bootstrap) as mesh:
        services = available_services()
        console.print(f"starting services: {', '.join(services)}")
        mesh.start(*services)
        result = stream_fleet(mesh, FleetConfig(meters=meters, days=days, seed=seed))
        report(result)
        if result.rows_stored != result.accepted:
            raise SystemExit(f"stored {result.rows_stored} rows but {result.accepted} were accepted")
        return result
