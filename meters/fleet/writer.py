"""Writing a generated fleet under one directory, with a manifest of counts and file hashes.

Layout (see docs/fleet.md): topology/*.parquet, readings/day-DDDD-chunk-CCCC.parquet,
meter_events/day-DDDD-chunk-CCCC.parquet (delivered events),
truth/*.parquet, manifest.json. Tables go through pyarrow directly (no pandas
metadata) with fixed settings, so the same config writes the same bytes.
"""

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from meters.fleet.anomalies import ANOMALY_CODES
from meters.fleet.chunks import ReadingChunk
from meters.fleet.config import FleetConfig
from meters.fleet.events import plan_transformer_events
from meters.fleet.frequency import plan_frequency_excursions
from meters.fleet.generate import TruthAccumulator, customer_segments, iter_fleet_chunks
from meters.fleet.meter_events import EVENT_COLUMNS, iter_meter_events
from meters.fleet.outages import plan_outages
from meters.fleet.theft import plan_thefts
from meters.fleet.topology import Topology, generate_topology

EVENT_SCHEMA = pa.schema([("event_id", pa.string()), ("meter_id", pa.int64()), ("type", pa.int64()),
                          ("event_time_unix_ms", pa.int64()), ("detail", pa.string())])
READING_COLUMNS = ("meter_ids", "reading_times_unix_s", "consumption_kwh", "demand_kw",
                   "voltage_v", "current_a", "power_factor", "frequency_hz")


def write_table(table: pa.Table | pd.DataFrame | dict, path: Path) -> None:
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False).replace_schema_metadata(None)
    elif isinstance(table, dict):
        table = pa.table(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", write_statistics=True)


def _readings_table(r: ReadingChunk) -> pa.Table:
    return pa.table({name: getattr(r, name) for name in READING_COLUMNS})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _write_meter_events(cfg, topo, outages, thefts, out: Path) -> dict:
    """Delivered events per day and chunk (the chunk of the meter), beside readings; all in truth."""
    all_events = []
    delivered = 0
    for day, df in enumerate(iter_meter_events(cfg, topo, outages=outages, thefts=thefts, delivered_only=False)):
        all_events.append(df)
        sent = df[df["delivered"]]
        delivered += len(sent)
        chunk = np.searchsorted(topo.chunk_bounds, sent["meter_id"].to_numpy() - 1, side="right") - 1
        for c in range(len(topo.chunk_bounds) - 1):
            part = sent[chunk == c][list(EVENT_COLUMNS)]
            write_table(pa.Table.from_pandas(part, schema=EVENT_SCHEMA, preserve_index=False).replace_schema_metadata(None),
                        out / "meter_events" / f"day-{day:04d}-chunk-{c:04d}.parquet")
    truth = pd.concat(all_events, ignore_index=True)
    schema = EVENT_SCHEMA.append(pa.field("delivered", pa.bool_())).append(pa.field("outage_id", pa.int64()))
    write_table(pa.Table.from_pandas(truth, schema=schema, preserve_index=False).replace_schema_metadata(None),
                out / "truth" / "meter_events.parquet")
    return {"meter_events": delivered, "meter_events_lost": len(truth) - delivered}


def write_fleet(cfg: FleetConfig, out: Path, on_chunk: Callable[[int, int], None] | None = None,
                topology: Topology | None = None) -> dict:
    """Generate and write everything; on_chunk(readings_in_chunk, chunks_total) reports progress."""
    out = Path(out)
    started = time.perf_counter()
    topo = topology if topology is not None else generate_topology(cfg)
    events = plan_transformer_events(cfg, topo)
    for name in ("substations", "feeders", "transformers", "meters"):
        write_table(getattr(topo, name), out / "topology" / f"{name}.parquet")
    write_table(topo.customers.drop(columns=["segment"]), out / "topology" / "customers.parquet")
    write_table(customer_segments(topo), out / "truth" / "customer_segments.parquet")
    write_table(topo.meter_parameters, out / "truth" / "meter_parameters.parquet")
    write_table(events, out / "truth" / "transformer_events.parquet")
    outages = plan_outages(cfg, topo, events)
    thefts = plan_thefts(cfg, topo)
    write_table(outages, out / "truth" / "outages.parquet")
    write_table(thefts, out / "truth" / "thefts.parquet")
    excursions = plan_frequency_excursions(cfg)
    write_table(excursions, out / "truth" / "frequency_excursions.parquet")

    truth = TruthAccumulator(cfg)
    anomalies: list[pa.Table] = []
    missing: list[pa.Table] = []
    counts = {"readings": 0, "anomalous_readings": 0, "missing_readings": 0}
    anomaly_counts = np.zeros(len(ANOMALY_CODES), dtype=np.int64)
    total_chunks = cfg.days * (len(topo.chunk_bounds) - 1)
    day_telemetry: list[pd.DataFrame] = []
    for fc in iter_fleet_chunks(cfg, topo, events, outages, thefts):
        r = fc.readings
        write_table(_readings_table(r), out / "readings" / f"day-{r.day:04d}-chunk-{r.chunk:04d}.parquet")
        flagged = r.anomaly_type != 0
        anomalies.append(pa.table({"meter_id": r.meter_ids[flagged],
                                   "reading_time_unix_s": r.reading_times_unix_s[flagged],
                                   "anomaly_type": r.anomaly_type[flagged]}))
        missing.append(pa.table(fc.missing))
        anomaly_counts += np.bincount(r.anomaly_type, minlength=len(anomaly_counts))
        anomaly_counts += np.bincount(fc.missing["anomaly_type"], minlength=len(anomaly_counts))
        counts["readings"] += len(r)
        counts["anomalous_readings"] += int(flagged.sum())
        counts["missing_readings"] += len(fc.missing["meter_id"])
        truth.add_demand(fc)
        day_telemetry.append(pd.DataFrame(fc.transformer_hourly))
        if r.chunk == len(topo.chunk_bounds) - 2:  # last chunk of the day: telemetry for the day
            tel = pd.concat(day_telemetry, ignore_index=True).sort_values(
                ["hour_end_unix_s", "transformer_id"], kind="stable", ignore_index=True)
            write_table(tel, out / "truth" / "transformer_telemetry" / f"day-{r.day:04d}.parquet")
            day_telemetry = []
        if on_chunk:
            on_chunk(len(r), total_chunks)

    write_table(pa.concat_tables(anomalies), out / "truth" / "reading_anomalies.parquet")
    write_table(pa.concat_tables(missing), out / "truth" / "missing_readings.parquet")
    write_table(truth.regional_demand(), out / "truth" / "regional_demand.parquet")
    counts.update(_write_meter_events(cfg, topo, outages, thefts, out))
    elapsed = time.perf_counter() - started

    files = sorted(p for p in out.rglob("*.parquet"))
    manifest = {
        "generator": "meters.fleet",
        "config": cfg.to_dict(),
        "anomaly_codes": ANOMALY_CODES,
        "counts": {
            **counts,
            "substations": len(topo.substations),
            "transformers": len(topo.transformers),
            "meters": len(topo.meters),
            "transformer_events": len(events),
            "transformer_failures": int((events["event_type"] == "failure").sum()),
            "feeders": len(topo.feeders),
            "outages": int((~outages["momentary"]).sum()),
            "momentary_outages": int(outages["momentary"].sum()),
            "thefts": len(thefts),
            "frequency_excursions": len(excursions),
            "by_anomaly_type": {name: int(anomaly_counts[code]) for name, code in ANOMALY_CODES.items()},
        },
        "files": {str(p.relative_to(out)): _sha256(p) for p in files},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    manifest["elapsed_s"] = elapsed  # reported, not written: the manifest must be reproducible
    return manifest
