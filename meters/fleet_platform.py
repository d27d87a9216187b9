"""A generated fleet loaded into a running mesh through the platform's own ways in: registration of
meters, network and customers; readings through StreamReadings (as the fleet writes them: with
signed net flow, ingest keeps the exports as NEGATIVE_CONSUMPTION rejects); its meter events through
StreamMeterEvents; transformer telemetry with its energy through RecordTransformerTelemetry. Then it
waits until the writer has stored every accepted and rejected reading and event. For the theft
suspects' e2e test and benchmark (planted thefts passed in, so the caller keeps the truth)."""

import datetime as dt
import time
from dataclasses import dataclass

import pandas as pd
import psycopg

from meters.fleet import FleetConfig, Topology, iter_fleet_chunks, iter_meter_events
from meters.fleet.config import NEM_TZ
from meters.fleet_registration import ServiceChannels, register_fleet
from meters.fleet_telemetry import record_telemetry
from meters.ingest.v1 import meter_event_pb2, reading_pb2
from meters.ingest_client import stream_meter_events, stream_readings
from meters.readings import from_arrays

READING_COLUMNS = ("meter_ids", "reading_times_unix_s", "consumption_kwh", "demand_kw", "voltage_v", "current_a",
                   "power_factor", "frequency_hz")


def recent_start(days: int) -> dt.datetime:
    """The latest 5 January (NEM midnight) whose `days` days are over: the same season (the fleet's
    default start) whenever it runs, and inside ingest's 24-month retention window."""
    now = dt.datetime.now(NEM_TZ)
    this_year = dt.datetime(now.year, 1, 5, tzinfo=NEM_TZ)
    return this_year if now >= this_year + dt.timedelta(days=days + 1) else this_year.replace(year=now.year - 1)


@dataclass(frozen=True)
class Loaded:
    readings: reading_pb2.IngestSummary
    events: meter_event_pb2.MeterEventSummary
    telemetry_rows: int
    seconds: float


def load_fleet(mesh, cfg: FleetConfig, topology: Topology, thefts: pd.DataFrame, store_timeout_s: float = 900) -> Loaded:
    started = time.perf_counter()
    telemetry = []

    def chunks():
        for fc in iter_fleet_chunks(cfg, topology, thefts=thefts):
            telemetry.append(pd.DataFrame(fc.transformer_hourly))
            yield from_arrays(**{n: getattr(fc.readings, n) for n in READING_COLUMNS})

    with mesh.channel("ingest") as ingest, mesh.channel("scoring") as scoring, mesh.channel("customer") as customer:
        register_fleet(topology, ServiceChannels(ingest, scoring, customer=customer))
    with mesh.channel("ingest", roles=("meter_head_end",)) as head_end:
        readings = stream_readings(head_end, chunks()).summary
        events = stream_meter_events(head_end, iter_meter_events(cfg, topology, thefts=thefts)).summary
    frame = pd.concat(telemetry, ignore_index=True)
    with mesh.channel("scoring", roles=("meter_head_end",)) as ch:
        stored, rejected = record_telemetry(frame, ch)
    if stored != len(frame) or rejected:
        raise RuntimeError(f"telemetry: {stored} of {len(frame)} rows stored, {rejected} energy values rejected")
    want = (readings.accepted, readings.rejected, events.accepted)
    deadline = time.monotonic() + store_timeout_s  # a hang guard
    with psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        while (got := db.execute(
                "SELECT (SELECT count(*) FROM meters.meter_readings), (SELECT count(*) FROM meters.rejected_readings),"
                " (SELECT count(*) FROM meters.meter_events)").fetchone()) != want:
            if time.monotonic() > deadline:
                raise TimeoutError(f"stored {got} of {want} (readings, rejected readings, events)")
            time.sleep(0.5)
    return Loaded(readings, events, len(frame), time.perf_counter() - started)
