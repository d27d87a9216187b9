"""Meter event validation, over whole columns like readings (ingest_svc/validation.py).

Each event gets one rejection reason (0 = accepted; the highest-precedence fault wins). The time
checks and their limits are the readings' own (future skew, retention window, oldest date). An
event_id is unique per meter (docs/decisions.md 27): one repeated for the same meter inside one
request is DUPLICATE_EVENT here; a resend of an event already stored is found by the writer
(ingest_svc/event_sink.py). No gRPC here.
"""

from dataclasses import dataclass

import numpy as np

from ingest_svc.validation import Limits, _isin_sorted, judge, time_checks
from meters.ingest.v1 import meter_event_pb2
from meters.ingest.v1.reading_pb2 import RejectionReason

R = RejectionReason
KNOWN_TYPES = np.array(sorted(v for v in meter_event_pb2.MeterEventType.values() if v != 0), dtype=np.int32)


@dataclass(frozen=True)
class EventColumns:
    events: list  # the MeterEvent messages, as received
    event_ids: np.ndarray  # object (str)
    meter_ids: np.ndarray  # int64
    types: np.ndarray  # int32
    times_ms: np.ndarray  # int64

    @classmethod
    def of(cls, events) -> "EventColumns":
        events = list(events)
        n = len(events)
        return cls(events, np.array([e.event_id for e in events], dtype=object).reshape(n),
                   np.fromiter((e.meter_id for e in events), np.int64, n),
                   np.fromiter((e.type for e in events), np.int32, n),
                   np.fromiter((e.event_time_unix_ms for e in events), np.int64, n))

    def __len__(self) -> int:
        return len(self.events)


def validate_events(cols: EventColumns, known_meters: np.ndarray, now_s: int, limits: Limits = Limits()) -> np.ndarray:
    """RejectionReason per event (int8, 0 = accepted); `known_meters` is the sorted registered ids."""
    missing = (cols.event_ids == "") | (cols.meter_ids == 0) | (cols.times_ms <= 0)
    reasons = judge([  # lowest precedence first
        *time_checks(cols.times_ms // 1000, now_s, limits),
        (R.REJECTION_REASON_UNKNOWN_EVENT_TYPE, ~_isin_sorted(cols.types.astype(np.int64), KNOWN_TYPES.astype(np.int64))),
        (R.REJECTION_REASON_UNKNOWN_METER, ~_isin_sorted(cols.meter_ids, known_meters)),
        (R.REJECTION_REASON_MISSING_VALUE, missing),
    ], len(cols))
    reasons[_later_repeats(cols.meter_ids, cols.event_ids, reasons == 0)] = R.REJECTION_REASON_DUPLICATE_EVENT
    return reasons


def _later_repeats(meter_ids: np.ndarray, ids: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Mask of candidates whose (meter_id, event_id) an earlier candidate of the request already has."""
    seen: set[tuple[int, str]] = set()
    dup = np.zeros(len(ids), dtype=bool)
    for i in np.flatnonzero(candidates):
        key = (int(meter_ids[i]), ids[i])
        if key in seen:
            dup[i] = True
        seen.add(key)
    return dup


def describe_event(reason: int, cols: EventColumns, i: int, limits: Limits = Limits()) -> str:
    """A human-readable detail for rejected event i."""
    t = cols.times_ms[i]
    if reason == R.REJECTION_REASON_MISSING_VALUE:
        names = [n for n, bad in (("event_id", cols.event_ids[i] == ""), ("meter_id", cols.meter_ids[i] == 0),
                                  ("event_time_unix_ms", t <= 0)) if bad]
        return "missing: " + ", ".join(names)
    if reason == R.REJECTION_REASON_UNKNOWN_METER:
        return f"meter {cols.meter_ids[i]} is not registered"
    if reason == R.REJECTION_REASON_UNKNOWN_EVENT_TYPE:
        return f"event type {cols.types[i]} is not a known MeterEventType"
    if reason == R.REJECTION_REASON_FUTURE_TIMESTAMP:
        return f"event time {t} ms is more than {limits.max_future_skew_s} s in the future"
    if reason == R.REJECTION_REASON_TOO_OLD:
        return f"event time {t} ms is older than the {limits.window.months}-month retention window"
    if reason == R.REJECTION_REASON_BEFORE_OLDEST_DATE:
        return f"event time {t} ms is before the oldest reading date {limits.window.oldest_date}"
    if reason == R.REJECTION_REASON_DUPLICATE_EVENT:
        return "event_id appears earlier in the same request for this meter"
    return RejectionReason.Name(reason)
