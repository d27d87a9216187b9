"""Consumers of meter-readings use or leave out substitutes by choice, and count what they leave out."""

import numpy as np
from prometheus_client import REGISTRY

from meters.ingest.v1 import reading_pb2
from meters.pbcolumns import encode_accepted
from meters.readings import ReadingQuality, from_accepted, from_arrays


def message(letters: bytes, method: int = 14, version: int = 5) -> bytes:
    n = len(letters)
    cols = from_arrays(meter_ids=np.arange(n), reading_times_unix_s=np.arange(n) + 1_700_000_000,
                       consumption_kwh=np.ones(n), demand_kw=np.ones(n), voltage_v=np.full(n, np.nan),
                       current_a=np.full(n, np.nan), power_factor=np.full(n, np.nan))
    quality = ReadingQuality(np.frombuffer(letters, "S1").copy(), np.full(n, method, np.int16), np.zeros(n, np.int16),
                             np.full(n, version, np.int64))
    return encode_accepted(cols, np.ones(n), 0, quality)


def excluded() -> float:
    return REGISTRY.get_sample_value("meters_substitutes_excluded_total") or 0.0


def test_substitutes_are_kept_or_left_out_and_counted():
    payload = message(b"ASEAF")
    before = excluded()
    cols, flags = from_accepted(payload, substitutes=True)
    assert len(cols) == 5 and excluded() == before
    cols, flags = from_accepted(payload, substitutes=False)
    assert cols.meter_ids.tolist() == [0, 3] and len(flags) == 2 and excluded() == before + 3


def test_streamed_actuals_carry_no_quality_columns_and_are_always_kept():
    payload = message(b"AAA", method=0, version=0)
    msg = reading_pb2.AcceptedReadings.FromString(payload)
    assert not msg.quality_letters  # actuals of version 0: the columns stay empty
    assert len(from_accepted(payload, substitutes=False)[0]) == 3
