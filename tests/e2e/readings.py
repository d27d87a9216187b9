"""Readings and meters made up for the end-to-end tests."""

import time

import numpy as np

from meters.ingest.v1 import meter_pb2
from meters.readings import ReadingColumns, from_arrays

INTERVAL_S = 900


def meters(first_id: int, count: int) -> list[meter_pb2.Meter]:
    return [meter_pb2.Meter(meter_id=i, meter_number=f"TEST-{i}", transformer_id=1)
            for i in range(first_id, first_id + count)]


def interval_end() -> int:
    """The end of the last whole 15-minute interval."""
    return (int(time.time()) // INTERVAL_S) * INTERVAL_S


def readings(first_id: int, count: int, intervals: int, seed: int = 0, end: int | None = None) -> ReadingColumns:
    """Valid readings for `count` meters over `intervals` 15-minute intervals ending at `end` (default: the
    last whole interval now). Tests that give each call its own earlier hour pass `end` from one fixed
    anchor (interval_end()): counting back from "now" would overlap two calls' intervals once the clock
    crosses a 15-minute boundary between them."""
    rng = np.random.default_rng(seed)
    end = interval_end() if end is None else end
    ids = np.repeat(np.arange(first_id, first_id + count), intervals)
    times = np.tile(end - INTERVAL_S * np.arange(intervals, 0, -1), count)
    n = len(ids)
    v = rng.normal(235, 3, n)
    pf = rng.uniform(0.85, 0.99, n)
    kw = rng.gamma(2.0, 0.5, n)
    return from_arrays(meter_ids=ids, reading_times_unix_s=times, consumption_kwh=kw * INTERVAL_S / 3600,
                       demand_kw=kw, voltage_v=v, current_a=kw * 1000 / (v * pf), power_factor=pf)
