"""The ingest use case: check a batch's shape, validate, publish, count."""

import asyncio
import time

import numpy as np

from ingest_svc.metrics import QUALITY_WARNINGS, READING_FREQUENCY, READING_VOLTAGE, READINGS_ACCEPTED, READINGS_REJECTED
from ingest_svc.publisher import Provenance, ReadingPublisher
from ingest_svc.registry import MeterRegistry
from ingest_svc.validation import Limits, validate
from meters.admission import Budget
from meters.errors import FieldViolation, invalid_argument
from meters.ingest.v1 import reading_pb2
from meters.ingest.v1.reading_pb2 import QualityFlag, RejectionReason
from meters.readings import ReadingColumns, column_lengths, from_batch

MAX_BATCH_READINGS = 100_000


class Ingestor:
    def __init__(self, registry: MeterRegistry, publisher: ReadingPublisher, limits: Limits = Limits(),
                 inflight: Budget | None = None):
        self._registry = registry
        self._publisher = publisher
        self._limits = limits
        self._inflight = inflight or Budget("readings", 1 << 40, 1.0)

    async def ingest(self, batch: reading_pb2.ReadingBatch, field: str = "batch") -> reading_pb2.IngestSummary:
        """Validate and publish a batch; refused by the in-flight bound before any of it is published."""
        check_shape(batch, field)
        with self._inflight.hold(len(batch.meter_ids)):
            cols = from_batch(batch)
            verdict = validate(cols, self._registry.ids, int(time.time()), self._limits)
            await self._publisher.publish(cols, verdict)
        READING_VOLTAGE.observe_many(cols.voltage_v[verdict.accepted])
        READING_FREQUENCY.observe_many(cols.frequency_hz[verdict.accepted])  # NaN (not reported) skipped
        return summarize(verdict)

    async def ingest_columns(self, cols: ReadingColumns, provenance: Provenance,
                             preset: np.ndarray | None = None) -> reading_pb2.IngestSummary:
        """Validate and publish readings that did not come as a batch (an MDFF file's intervals).

        An import waits for room under the in-flight bound rather than being refused half-way: its
        file is already here, and the server paces it."""
        while not self._inflight.fits(len(cols)):
            await asyncio.sleep(0.05)
        with self._inflight.hold(len(cols)):
            verdict = validate(cols, self._registry.ids, int(time.time()), self._limits,
                               energy_only=provenance.energy_only, preset=preset)
            await self._publisher.publish(cols, verdict, provenance)
        return summarize(verdict)


def check_shape(batch: reading_pb2.ReadingBatch, field: str) -> None:
    """Columns of unequal length cannot be read as readings at all: INVALID_ARGUMENT."""
    lengths = column_lengths(batch)
    n = lengths["meter_ids"]
    violations = [
        FieldViolation(f"{field}.{name}", f"has {count} values but {field}.meter_ids has {n}")
        for name, count in lengths.items()
        if count != n
    ]
    if n > MAX_BATCH_READINGS:
        violations.append(FieldViolation(f"{field}.meter_ids", f"{n} readings exceed the {MAX_BATCH_READINGS} limit"))
    if violations:
        raise invalid_argument(f"malformed reading batch in {field}", *violations, reason="MALFORMED_BATCH")


def summarize(verdict) -> reading_pb2.IngestSummary:
    accepted = verdict.accepted
    reasons, counts = np.unique(verdict.reasons[~accepted], return_counts=True)
    flags = verdict.flags[accepted]
    summary = reading_pb2.IngestSummary(
        accepted=int(accepted.sum()),
        rejected=int((~accepted).sum()),
        rejections=[reading_pb2.RejectionCount(reason=int(r), count=int(c)) for r, c in zip(reasons, counts)],
        voltage_warnings=int((flags == QualityFlag.QUALITY_FLAG_VOLTAGE_WARNING).sum()),
        pf_warnings=int((flags == QualityFlag.QUALITY_FLAG_PF_WARNING).sum()),
        frequency_warnings=int((flags == QualityFlag.QUALITY_FLAG_FREQUENCY_WARNING).sum()),
    )
    READINGS_ACCEPTED.inc(summary.accepted)
    for rc in summary.rejections:
        READINGS_REJECTED.labels(RejectionReason.Name(rc.reason)).inc(rc.count)
    QUALITY_WARNINGS.labels("voltage_warning").inc(summary.voltage_warnings)
    QUALITY_WARNINGS.labels("pf_warning").inc(summary.pf_warnings)
    QUALITY_WARNINGS.labels("frequency_warning").inc(summary.frequency_warnings)
    return summary
