"""The meter-event ingest use case: check a batch's size, validate, publish, count."""

import time

import numpy as np

from ingest_svc.event_metrics import EVENTS_ACCEPTED, EVENTS_REJECTED
from ingest_svc.event_publisher import EventPublisher
from ingest_svc.event_validation import EventColumns, validate_events
from ingest_svc.registry import MeterRegistry
from ingest_svc.validation import Limits
from meters.admission import Budget
from meters.errors import FieldViolation, invalid_argument
from meters.ingest.v1 import meter_event_pb2
from meters.ingest.v1.reading_pb2 import RejectionCount, RejectionReason

MAX_BATCH_EVENTS = 100_000


class EventIngestor:
    def __init__(self, registry: MeterRegistry, publisher: EventPublisher, limits: Limits = Limits(),
                 inflight: Budget | None = None):
        self._registry = registry
        self._publisher = publisher
        self._limits = limits
        # Shared with readings: an event in flight costs about what a reading does.
        self._inflight = inflight or Budget("readings", 1 << 40, 1.0)

    async def ingest(self, batch: meter_event_pb2.MeterEventBatch, field: str = "batch"
                     ) -> meter_event_pb2.MeterEventSummary:
        """Validate and publish a batch; refused by the in-flight bound before any of it is published."""
        if len(batch.events) > MAX_BATCH_EVENTS:
            raise invalid_argument(f"too many events in {field}", FieldViolation(
                f"{field}.events", f"{len(batch.events)} events exceed the {MAX_BATCH_EVENTS} limit"),
                reason="MALFORMED_BATCH")
        with self._inflight.hold(len(batch.events)):
            cols = EventColumns.of(batch.events)
            reasons = validate_events(cols, self._registry.ids, int(time.time()), self._limits)
            await self._publisher.publish(cols, reasons, self._limits)
        return summarize_events(reasons)


def summarize_events(reasons: np.ndarray) -> meter_event_pb2.MeterEventSummary:
    rejected = reasons != 0
    codes, counts = np.unique(reasons[rejected], return_counts=True)
    summary = meter_event_pb2.MeterEventSummary(
        accepted=int((~rejected).sum()), rejected=int(rejected.sum()),
        rejections=[RejectionCount(reason=int(r), count=int(c)) for r, c in zip(codes, counts)])
    EVENTS_ACCEPTED.inc(summary.accepted)
    for rc in summary.rejections:
        EVENTS_REJECTED.labels(RejectionReason.Name(rc.reason)).inc(rc.count)
    return summary
