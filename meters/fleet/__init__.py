"""Synthetic smart-meter fleet: a reproducible NEM-like network, interval readings and planted truth.

See docs/fleet.md for parameters, truth formats and the realism comparison with SGSC data.
"""

from meters.fleet.anomalies import ANOMALY_CODES, ANOMALY_NAMES
from meters.fleet.chunks import FleetChunk, ReadingChunk
from meters.fleet.config import FleetConfig
from meters.fleet.events import plan_transformer_events
from meters.fleet.generate import (
    customer_segments,
    iter_fleet_chunks,
    iter_reading_chunks,
    regional_demand,
    transformer_telemetry,
)
from meters.fleet.meter_events import iter_meter_events, meter_events
from meters.fleet.outages import plan_outages
from meters.fleet.segments import SEGMENT_KEYS, SEGMENTS
from meters.fleet.theft import plan_thefts
from meters.fleet.topology import Topology, generate_topology

__all__ = [
    "ANOMALY_CODES",
    "ANOMALY_NAMES",
    "FleetChunk",
    "FleetConfig",
    "ReadingChunk",
    "SEGMENTS",
    "SEGMENT_KEYS",
    "Topology",
    "customer_segments",
    "generate_topology",
    "iter_fleet_chunks",
    "iter_meter_events",
    "iter_reading_chunks",
    "meter_events",
    "plan_outages",
    "plan_thefts",
    "plan_transformer_events",
    "regional_demand",
    "transformer_telemetry",
]
