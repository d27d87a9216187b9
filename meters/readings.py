"""Readings as numpy columns: the one in-memory form every service shares.

A ReadingBatch proto is columnar, so conversion is one array per field; all
validation, partitioning and database writes then work on whole arrays.
"""

from dataclasses import dataclass, fields

import numpy as np
from prometheus_client import Counter
from pydantic_settings import BaseSettings, SettingsConfigDict

from meters.ingest.v1 import reading_pb2
from meters.pbcolumns import Accepted, decode_accepted, reported


@dataclass(frozen=True)
class ReadingColumns:
    meter_ids: np.ndarray  # int64
    reading_times_unix_s: np.ndarray  # int64
    consumption_kwh: np.ndarray  # float64, NaN = missing
    demand_kw: np.ndarray
    voltage_v: np.ndarray
    current_a: np.ndarray
    power_factor: np.ndarray
    # Power frequency, Hz, NaN = not reported (see reading.proto): optional, so readings made without
    # it (MDFF intervals, VEE substitutes, history rows) leave it out and get NaN for every row.
    frequency_hz: np.ndarray | None = None

    def __post_init__(self):
        if self.frequency_hz is None:
            object.__setattr__(self, "frequency_hz", np.full(len(self.meter_ids), np.nan))

    def __len__(self) -> int:
        return len(self.meter_ids)

    def take(self, index: np.ndarray) -> "ReadingColumns":
        """Rows selected by a boolean mask or an index array."""
        return ReadingColumns(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def concat(parts: list["ReadingColumns"]) -> "ReadingColumns":
        return ReadingColumns(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(ReadingColumns))
        )


@dataclass(frozen=True)
class ReadingQuality:
    """NEM quality of each reading, aligned with its columns (see reading.proto AcceptedReadings)."""

    letters: np.ndarray  # "S1": A S F E
    method_flags: np.ndarray  # int16, 0 = none
    reason_codes: np.ndarray  # int16, 0 = none
    versions_unix_s: np.ndarray  # int64: UpdateDateTime, 0 for streamed readings

    @staticmethod
    def actual(n: int) -> "ReadingQuality":
        """Streamed readings: actual, version 0."""
        return ReadingQuality(np.full(n, b"A", dtype="S1"), np.zeros(n, np.int16), np.zeros(n, np.int16),
                              np.zeros(n, np.int64))

    def take(self, index: np.ndarray) -> "ReadingQuality":
        return ReadingQuality(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def concat(parts: list["ReadingQuality"]) -> "ReadingQuality":
        return ReadingQuality(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(ReadingQuality)))

    def all_actual(self) -> bool:
        """Every reading a version-0 actual: a Kafka message then leaves its quality columns empty."""
        return bool((self.letters == b"A").all() and not self.method_flags.any() and not self.versions_unix_s.any()
                    and not self.reason_codes.any())


def _quality_of(msg: Accepted, n: int) -> ReadingQuality:
    if not len(msg.letters):
        return ReadingQuality.actual(n)
    return ReadingQuality(msg.letters, msg.method_flags.astype(np.int16), msg.reason_codes.astype(np.int16),
                          msg.versions_unix_s)


INT_COLUMNS = ("meter_ids", "reading_times_unix_s")
# Measured values every reading carries (NaN = missing, rejected unless energy-only).
FLOAT_COLUMNS = ("consumption_kwh", "demand_kw", "voltage_v", "current_a", "power_factor")
# Measured values some meters report: an empty column means not reported for every reading.
OPTIONAL_COLUMNS = ("frequency_hz",)
COLUMN_NAMES = INT_COLUMNS + FLOAT_COLUMNS + OPTIONAL_COLUMNS


def column_lengths(batch: reading_pb2.ReadingBatch) -> dict[str, int]:
    """Each column's length; an empty optional column counts as full (not reported for every reading)."""
    lengths = {name: len(getattr(batch, name)) for name in COLUMN_NAMES}
    for name in OPTIONAL_COLUMNS:
        lengths[name] = lengths[name] or lengths["meter_ids"]
    return lengths


def from_batch(batch: reading_pb2.ReadingBatch) -> ReadingColumns:
    """Columns of a batch whose column lengths were already checked equal."""
    ints = [np.array(getattr(batch, n), dtype=np.int64) for n in INT_COLUMNS]
    floats = [np.array(getattr(batch, n), dtype=np.float64) for n in FLOAT_COLUMNS]
    optional = [np.array(getattr(batch, n), dtype=np.float64) if len(getattr(batch, n)) else None
                for n in OPTIONAL_COLUMNS]
    return ReadingColumns(*ints, *floats, *optional)


def to_batch(cols: ReadingColumns) -> reading_pb2.ReadingBatch:
    batch = reading_pb2.ReadingBatch()
    for name in COLUMN_NAMES:
        values = getattr(cols, name)
        if name not in OPTIONAL_COLUMNS or reported(values):
            getattr(batch, name).extend(values.tolist())
    return batch


def from_arrays(**arrays: np.ndarray) -> ReadingColumns:
    """Columns from same-named arrays (e.g. a fleet chunk), copied to the right dtypes; an optional
    column left out (or None) is not reported."""
    return ReadingColumns(
        *(np.asarray(arrays[n], dtype=np.int64) for n in INT_COLUMNS),
        *(np.asarray(arrays[n], dtype=np.float64) for n in FLOAT_COLUMNS),
        *(None if arrays.get(n) is None else np.asarray(arrays[n], dtype=np.float64) for n in OPTIONAL_COLUMNS),
    )


class SubstituteChoice(BaseSettings):
    """Whether the consumers of `meter-readings` (scoring, forecast actuals, hourly usage and so
    segmentation) use VEE's and MDFF files' substitutes and estimates (quality S, F, E) or only
    actuals: METERS_USE_SUBSTITUTES, true by default. Excluded readings are counted, never silent."""

    model_config = SettingsConfigDict(env_prefix="METERS_", extra="ignore")
    use_substitutes: bool = True


USE_SUBSTITUTES = SubstituteChoice().use_substitutes
SUBSTITUTES_EXCLUDED = Counter("meters_substitutes_excluded_total",
                               "Substituted or estimated readings left out by a consumer (METERS_USE_SUBSTITUTES=0).")


def from_accepted(payload: bytes, substitutes: bool | None = None) -> tuple[ReadingColumns, np.ndarray]:
    """Columns and quality flags (int16) of one `meter-readings` Kafka message; without its substitutes
    and estimates when `substitutes` is false (default: METERS_USE_SUBSTITUTES)."""
    msg = decode_accepted(payload)
    cols, flags = ReadingColumns(*msg.ints, *msg.doubles), msg.flags.astype(np.int16)
    if len(msg.letters) and not (USE_SUBSTITUTES if substitutes is None else substitutes):
        actual = msg.letters == b"A"
        SUBSTITUTES_EXCLUDED.inc(int((~actual).sum()))
        cols, flags = cols.take(actual), flags[actual]
    return cols, flags


def from_accepted_with_quality(payload: bytes) -> tuple[ReadingColumns, np.ndarray, ReadingQuality, str]:
    """from_accepted, with the NEM quality of each reading and the message's origin (for the writer)."""
    msg = decode_accepted(payload)
    cols = ReadingColumns(*msg.ints, *msg.doubles)
    return cols, msg.flags.astype(np.int16), _quality_of(msg, len(cols)), msg.origin


def add_summaries(total: reading_pb2.IngestSummary, part: reading_pb2.IngestSummary) -> None:
    total.voltage_warnings += part.voltage_warnings
    total.pf_warnings += part.pf_warnings
    total.frequency_warnings += part.frequency_warnings
    add_counts(total, part)


def add_counts(total, part) -> None:
    """Add part's accepted, rejected and rejections by reason to total (an IngestSummary or MeterEventSummary)."""
    total.accepted += part.accepted
    total.rejected += part.rejected
    by_reason = {rc.reason: rc for rc in total.rejections}
    for rc in part.rejections:
        if rc.reason in by_reason:
            by_reason[rc.reason].count += rc.count
        else:
            total.rejections.add(reason=rc.reason, count=rc.count)
