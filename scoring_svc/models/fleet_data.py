"""The synthetic fleet (meters.fleet) turned into what the models train and are evaluated on.

Readings come sorted by (meter, time) with their planted anomaly code; transformer data
comes as hourly telemetry plus hourly counts of anomalous readings under each transformer
(from the planted truth: in service those counts come from this detector's own alerts).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meters.fleet import FleetConfig, Topology, generate_topology, iter_fleet_chunks, plan_transformer_events
from meters.progress import progress_bar
from meters.readings import ReadingColumns, from_arrays
from scoring_svc.models.anomaly_features import sort_by_meter_time

SCORED_CODES = range(1, 7)  # present-row anomalies; 7 and 8 are absent rows


@dataclass
class FleetData:
    cfg: FleetConfig
    topology: Topology
    events: pd.DataFrame
    readings: ReadingColumns | None  # sorted by (meter, time); None when not kept
    labels: np.ndarray | None  # uint8 anomaly code per reading
    telemetry: pd.DataFrame
    anomaly_counts: pd.DataFrame  # transformer_id, hour_end_unix_s, anomaly_count


def load_fleet(cfg: FleetConfig, keep_readings: bool = True, label: str = "fleet") -> FleetData:
    topo = generate_topology(cfg)
    events = plan_transformer_events(cfg, topo)
    meter_tx = np.zeros(int(topo.meters["meter_id"].max()) + 1, dtype=np.int64)
    meter_tx[topo.meters["meter_id"].to_numpy()] = topo.meters["transformer_id"].to_numpy()
    parts, labels, telemetry, counts = [], [], [], []
    with progress_bar() as bar:
        task = bar.add_task(f"{label}: {cfg.meters} meters x {cfg.days} days", total=cfg.days * (len(topo.chunk_bounds) - 1))
        for fc in iter_fleet_chunks(cfg, topo, events):
            r = fc.readings
            if keep_readings:
                parts.append(from_arrays(**{k: getattr(r, k) for k in (
                    "meter_ids", "reading_times_unix_s", "consumption_kwh", "demand_kw",
                    "voltage_v", "current_a", "power_factor")}))
                labels.append(r.anomaly_type)
            telemetry.append(pd.DataFrame(fc.transformer_hourly))
            bad = np.isin(r.anomaly_type, SCORED_CODES)
            hour_end = (r.reading_times_unix_s[bad] + 3599) // 3600 * 3600
            key, n = np.unique(np.column_stack([meter_tx[r.meter_ids[bad]], hour_end]), axis=0, return_counts=True)
            counts.append(pd.DataFrame({"transformer_id": key[:, 0], "hour_end_unix_s": key[:, 1],
                                        "anomaly_count": n}) if len(n) else None)
            bar.advance(task)
    readings = lab = None
    if keep_readings:
        readings = ReadingColumns.concat(parts)
        lab = np.concatenate(labels)
        order = sort_by_meter_time(readings)
        readings, lab = readings.take(order), lab[order]
    tel = pd.concat(telemetry, ignore_index=True)
    cnt = [c for c in counts if c is not None]
    anomaly_counts = (pd.concat(cnt, ignore_index=True) if cnt else
                      pd.DataFrame({"transformer_id": [], "hour_end_unix_s": [], "anomaly_count": []}))
    return FleetData(cfg, topo, events, readings, lab, tel, anomaly_counts)


def split_transformers(topology: Topology, seed: int, train_share: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Transformer ids for training and for evaluation: a seeded random split, so both see every region."""
    ids = topology.transformers["transformer_id"].to_numpy()
    rng = np.random.default_rng([seed, 99])
    train = rng.random(len(ids)) < train_share
    return ids[train], ids[~train]


def meters_of(topology: Topology, transformer_ids: np.ndarray) -> np.ndarray:
    m = topology.meters
    return m["meter_id"].to_numpy()[np.isin(m["transformer_id"].to_numpy(), transformer_ids)]


@dataclass(frozen=True)
class Spans:
    """Day boundaries (unix s): models fit on [start, calibrate), calibrate on [calibrate, evaluate),
    and are evaluated on [evaluate, end) of other meters/transformers."""

    start: int
    calibrate: int
    evaluate: int
    end: int

    @classmethod
    def of(cls, cfg: FleetConfig) -> "Spans":
        train_days = max(2, round(cfg.days * 2 / 3))
        fit_days = max(1, round(train_days * 0.7))
        day = 86_400
        s = cfg.start_unix_s
        return cls(s, s + fit_days * day, s + train_days * day, s + cfg.days * day)


def rows_in(readings: ReadingColumns, meter_ids: np.ndarray, t0: int, t1: int) -> np.ndarray:
    """Row numbers of readings of these meters with interval end in (t0, t1]."""
    t = readings.reading_times_unix_s
    return np.flatnonzero(np.isin(readings.meter_ids, meter_ids) & (t > t0) & (t <= t1))
