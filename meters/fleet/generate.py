"""Streaming the fleet: days outer, transformer blocks inner, so memory is one chunk at a time."""

from collections.abc import Iterator

import numpy as np
import pandas as pd

from meters.fleet.calendar import REGIONS, daily_weather
from meters.fleet.chunks import DayContext, FleetChunk, ReadingChunk, build_chunk
from meters.fleet.config import FleetConfig
from meters.fleet.events import plan_transformer_events
from meters.fleet.outages import SupplyPlan, plan_outages
from meters.fleet.theft import TheftPlan, plan_thefts
from meters.fleet.topology import Topology, generate_topology


def iter_fleet_chunks(cfg: FleetConfig, topology: Topology | None = None,
                      events: pd.DataFrame | None = None, outages: pd.DataFrame | None = None,
                      thefts: pd.DataFrame | None = None) -> Iterator[FleetChunk]:
    """Readings plus the truth computed alongside them (absent rows, telemetry, regional demand).
    outages and thefts default to the planted ones (plan_outages, plan_thefts)."""
    topo = topology if topology is not None else generate_topology(cfg)
    events = events if events is not None else plan_transformer_events(cfg, topo)
    outages = outages if outages is not None else plan_outages(cfg, topo, events)
    thefts = thefts if thefts is not None else plan_thefts(cfg, topo)
    supply, theft = SupplyPlan(topo, outages, events), TheftPlan(cfg, topo, thefts)
    weather = daily_weather(cfg)
    bus_offsets = np.random.default_rng([cfg.seed, 4]).normal(0.0, 1.5, len(topo.substations))
    for day in range(cfg.days):
        ctx = DayContext(cfg, day, weather)
        for chunk in range(len(topo.chunk_bounds) - 1):
            yield build_chunk(cfg, topo, events, ctx, chunk, bus_offsets, supply, theft)


def iter_reading_chunks(cfg: FleetConfig, topology: Topology | None = None) -> Iterator[ReadingChunk]:
    """The readings alone, for streaming into ingest: bounded chunks, time-ordered within each."""
    for fc in iter_fleet_chunks(cfg, topology):
        yield fc.readings


def customer_segments(topology: Topology) -> pd.DataFrame:
    """Truth: each customer's planted segment."""
    return topology.customers[["customer_id", "segment"]].copy()


class TruthAccumulator:
    """Sums each chunk's share of the regional demand into whole-run series (regions x intervals)."""

    def __init__(self, cfg: FleetConfig):
        self.cfg = cfg
        self.demand: dict[int, np.ndarray] = {}

    def add_demand(self, fc: FleetChunk) -> None:
        day = fc.readings.day
        if day not in self.demand:
            self.demand[day] = np.zeros_like(fc.region_demand_kw)
        self.demand[day] += fc.region_demand_kw

    def regional_demand(self) -> pd.DataFrame:
        """region, reading_time_unix_s (interval end), demand_mw (true net demand), temperature_c."""
        weather = daily_weather(self.cfg)
        rows = []
        for day in sorted(self.demand):
            ctx = DayContext(self.cfg, day, weather)
            for r, region in enumerate(REGIONS):
                rows.append(pd.DataFrame({
                    "region": region,
                    "reading_time_unix_s": ctx.times,
                    "demand_mw": np.round(self.demand[day][r] / 1000.0, 6),
                    "temperature_c": np.round(ctx.clock.temp_c[r], 2),
                }))
        df = pd.concat(rows, ignore_index=True)
        return df.sort_values(["region", "reading_time_unix_s"], kind="stable", ignore_index=True)


def regional_demand(cfg: FleetConfig, topology: Topology | None = None) -> pd.DataFrame:
    """Truth demand per region and interval. Runs the whole generator: for small fleets or tests."""
    acc = TruthAccumulator(cfg)
    for fc in iter_fleet_chunks(cfg, topology):
        acc.add_demand(fc)
    return acc.regional_demand()


def transformer_telemetry(cfg: FleetConfig, topology: Topology | None = None) -> pd.DataFrame:
    """Hourly transformer telemetry for the whole run. Runs the whole generator: for small fleets or tests."""
    parts = [pd.DataFrame(fc.transformer_hourly) for fc in iter_fleet_chunks(cfg, topology)]
    return pd.concat(parts, ignore_index=True).sort_values(
        ["hour_end_unix_s", "transformer_id"], kind="stable", ignore_index=True)
