"""`make demo`: the local mesh on real Kafka and PostgreSQL, a synthetic fleet
streamed through ingest, and a short report of what happened."""

import importlib.util
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

import grpc

from meters import demo_outages, demo_report
from meters.fleet import FleetConfig, generate_topology, iter_reading_chunks
from meters.fleet.config import OutageRates
from meters.fleet_registration import ServiceChannels, record_weather, register_fleet
from meters.ingest.v1.reading_pb2 import RejectionReason
from meters.ingest_client import stream_readings
from meters.mesh import SERVICES, Mesh
from meters.ml_jobs import MlJob, train_all
from meters.model_registry import ModelNotFound, ModelRegistry
from meters.readings import from_arrays

console = Console()
DEMO_OUTAGE_SCALE = 10.0


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


def stream_fleet(mesh: Mesh, cfg: FleetConfig, topology) -> tuple[DemoResult, demo_report.AnomalyTruth]:
    truth = demo_report.AnomalyTruth(set(), 0)
    with mesh.channel("ingest") as ch:
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
                        "current_a", "power_factor", "frequency_hz")})
                    sent += len(cols)
                    truth.keys |= demo_report.planted(cols.meter_ids, cols.reading_times_unix_s, chunk.anomaly_type)
                    progress.update(task, completed=sent)
                    yield cols

            started = time.perf_counter()
            reply = stream_readings(ch, chunks())
            ingest_s = time.perf_counter() - started
            progress.update(task, total=sent)  # the fleet plants missing intervals
    rows, rejected_rows = wait_until_stored(mesh.pg_dsn, reply.summary.accepted, reply.summary.rejected)
    truth.readings = sent
    with psycopg.connect(mesh.pg_dsn) as conn:
        truth.rejected_at_ingest = set(conn.execute(
            "SELECT meter_id, extract(epoch FROM reading_time)::bigint FROM meters.rejected_readings").fetchall())
    return DemoResult(
        readings_sent=sent, accepted=reply.summary.accepted,
        rejected={RejectionReason.Name(rc.reason).removeprefix("REJECTION_REASON_").lower(): rc.count
                  for rc in reply.summary.rejections},
        ingest_seconds=ingest_s, stored_seconds=time.perf_counter() - started,
        rows_stored=rows, rows_rejected_stored=rejected_rows,
    ), truth


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


MODELS = ("anomaly", "failure", "forecast-network", "segmentation")


def model_registry(run_dir: Path) -> Path:
    """The repo's registry when `make evaluate` has promoted every model; else small models trained once here."""
    for root in (ModelRegistry().root, run_dir / "models"):
        try:
            for name in MODELS:
                ModelRegistry(root).promoted(name)
            return root
        except ModelNotFound:
            continue
    console.print("no promoted models yet: training small ones for the demo (`make evaluate` trains the real ones)")
    train_all(MlJob(ModelRegistry(run_dir / "models"), run_dir / "reports", quick=True))
    return run_dir / "models"


def mesh_sections(mesh: Mesh, truth: demo_report.AnomalyTruth, end_unix_s: int, days: int
                  ) -> tuple[dict[str, list[tuple[str, str]]], bool]:
    """Each service's part of the report; a failing service shows its error instead of hiding it."""
    sections, ok = {}, True
    for service, make_rows in (
        ("scoring", lambda ch: demo_report.anomaly_rows(ch, truth)),
        ("alert", demo_report.alert_rows),
        ("forecast", lambda ch: demo_report.forecast_rows(ch, end_unix_s)),
        ("customer", lambda ch: demo_report.segment_rows(ch, days)),
    ):
        with mesh.channel(service) as ch:
            try:
                sections[service] = make_rows(ch)
            except grpc.RpcError as err:
                sections[service], ok = [("error", f"{err.code().name}: {err.details()}")], False
    return sections, ok


def run(meters: int, days: int, seed: int, run_dir: Path) -> DemoResult:
    from meters.localstack.stack import LocalStack

    os.environ["METERS_MODEL_REGISTRY"] = str(model_registry(run_dir))  # inherited by the services
    shutil.rmtree(run_dir / "stack", ignore_errors=True)  # every demo starts from empty Kafka and PostgreSQL
    with LocalStack(run_dir / "stack") as stack, Mesh(run_dir / "mesh", stack.pg_dsn, stack.kafka_bootstrap) as mesh:
        services = available_services()
        console.print(f"starting services: {', '.join(services)}")
        mesh.start(*services)
        # Outages planted 10x as often as on a real network, so that a week of a small fleet shows some.
        cfg = FleetConfig(meters=meters, days=days, seed=seed, outage_rates=OutageRates(scale=DEMO_OUTAGE_SCALE))
        topology = generate_topology(cfg)
        with mesh.channel("ingest") as ingest, mesh.channel("scoring") as scoring, \
                mesh.channel("forecast") as forecast, mesh.channel("customer") as customer:
            register_fleet(topology, ServiceChannels(ingest, scoring, forecast, customer))
            record_weather(cfg, customer)
        result, truth = stream_fleet(mesh, cfg, topology)
        report(result)
        sections, ok = mesh_sections(mesh, truth, cfg.end_unix_s, cfg.days)
        console.print(demo_report.mesh_table(sections))
        grid = demo_outages.run(mesh, cfg, topology, run_dir / "reports", console)
        console.print(demo_outages.table(grid))
        if result.rows_stored != result.accepted or not ok or not grid.ok:
            raise SystemExit("the demo found a problem: see the tables above and the logs in " + str(run_dir / "mesh"))
        return result
