"""Readings and meters made up for the end-to-end tests."""

import time

import numpy as np

from meters.ingest.v1 import meter_pb2
from meters.readings import ReadingColumns, from_arrays

INTERVAL_S = 900


def meters(first_id: int, count: int) -> list[meter_pb2.Meter]:
    return [meter_pb2.Meter(meter_id=i, meter_number=f"TEST-{i}", transformer_id=1)
            for i in range(first_id, first_id + count)]


def readings(first_id: int, count: int, intervals: int, seed: int = 0) -> ReadingColumns:
    """Valid readings for `count` meters over `intervals` past 15-minute intervals."""
    rng = np.random.default_rng(seed)
    end = (int(time.time()) // INTERVAL_S) * INTERVAL_S
    ids = np.repeat(np.arange(first_id, first_id + count), intervals)
    times = np.tile(end - INTERVAL_S * np.arange(intervals, 0, -1), count)
    n = len(ids)
    v = rng.normal(235, 3, n)
    pf = rng.uniform(0.85, 0.99, n)
    kw = rng.gamma(2.0, 0.5, n)
    return from_arrays(meter_ids=ids, reading_times_unix_s=times, consumption_kwh=kw * INTERVAL_S / 3600,
                       demand_kw=kw, voltage_v=v, current_a=kw * 1000 / (v * pf), power_factor=pf)
