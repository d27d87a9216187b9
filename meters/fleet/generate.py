"""Streaming the fleet: days outer, transformer blocks inner, so memory is one chunk at a time."""

from collections.abc import Iterator

import numpy as np
import pandas as pd

from meters.fleet.calendar import REGIONS, daily_weather
from meters.fleet.chunks import DayContext, FleetChunk, ReadingChunk, build_chunk
from meters.fleet.config import FleetConfig
from meters.fleet.events import plan_transformer_events
from meters.fleet.topology import Topology, generate_topology


def iter_fleet_chunks(cfg: FleetConfig, topology: Topology | None = None,
                      events: pd.DataFrame | None = None) -> Iterator[FleetChunk]:
    """Readings plus the truth computed alongside them (absent rows, telemetry, regional demand)."""
    topo = topology if topology is not None else generate_topology(cfg)
    events = events if events is not None else plan_transformer_events(cfg, topo)
    weather = daily_weather(cfg)
    bus_offsets = np.random.default_rng([cfg.seed, 4]).normal(0.0, 1.5, len(topo.substations))
    for day in range(cfg.days):
        ctx = DayContext(cfg, day, weather)
        for chunk in range(len(topo.chunk_bounds) - 1):
            yield build_chunk(cfg, topo, events, ctx, chunk, bus_offsets)


def iter_reading_chunks(cfg: FleetConfig, topology: Topology | None = None) -> Iterator[ReadingChunk]:
    """The readings alone, for streaming into ingest: bounded chunks, time-ordered within each."""
    for fc in iter_fleet_chunks(cfg, topology):
        yield fc.readings


def count_chunks(cfg: FleetConfig, topology: Topology) -> int:
    return cfg.days * (len(topology.chunk_bounds) - 1)


def customer_segments(topology: Topology) -> pd.DataFrame:
    """Truth: each customer's planted segment."""
    return topology.customers[["customer_id", "segment"]].copy()


class TruthAccumulator:
    """Collects the per-chunk truth into whole-run tables (sizes: transformers x hours, regions x intervals)."""

    def __init__(self, cfg: FleetConfig):
        self.cfg = cfg
        self.telemetry: list[pd.DataFrame] = []
        self.demand: dict[int, np.ndarray] = {}
        self.times: dict[int, np.ndarray] = {}
        self.temps: dict[int, np.ndarray] = {}

    def add(self, fc: FleetChunk, day_ctx_times: np.ndarray, temps: np.ndarray) -> None:
        self.telemetry.append(pd.DataFrame(fc.transformer_hourly))
        day = fc.readings.day
        if day not in self.demand:
            self.demand[day] = np.zeros_like(fc.region_demand_kw)
            self.times[day], self.temps[day] = day_ctx_times, temps
        self.demand[day] += fc.region_demand_kw

    def transformer_telemetry(self) -> pd.DataFrame:
        df = pd.concat(self.telemetry, ignore_index=True)
        return df.sort_values(["hour_end_unix_s", "transformer_id"], kind="stable", ignore_index=True)

    def regional_demand(self) -> pd.DataFrame:
        rows = []
        for day in sorted(self.demand):
            for r, region in enumerate(REGIONS):
                rows.append(pd.DataFrame({
                    "region": region,
                    "reading_time_unix_s": self.times[day],
                    "demand_mw": self.demand[day][r] / 1000.0,
                    "temperature_c": np.round(self.temps[day][r], 2),
                }))
        df = pd.concat(rows, ignore_index=True)
        return df.sort_values(["region", "reading_time_unix_s"], kind="stable", ignore_index=True)
