"""Publishes validated readings to Kafka and rejected ones with their reasons.

Accepted readings travel columnar: one AcceptedReadings message per
(request, partition), partition = meter_id % partitions, so every meter's
readings stay ordered on one partition while a message carries thousands of
readings (one message per reading cannot reach 100,000 readings/s here).
`publish` returns only once Kafka acknowledged everything (acks=all); messages
that fail with a retriable error (a leader election, a busy broker) are sent
again with backoff, and if Kafka still refuses, the call fails UNAVAILABLE so
the client re-sends (re-sent readings are stored once).
"""

import asyncio
import time
from dataclasses import dataclass

import numpy as np
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from ingest_svc.validation import Verdict, describe
from meters.errors import unavailable
from meters.ingest.v1 import reading_pb2
from meters.kafka import FATAL_PRODUCER_ERRORS, READINGS_TOPIC, REJECTED_TOPIC, RenewableProducer
from meters.pbcolumns import encode_accepted
from meters.readings import ReadingColumns, ReadingQuality


class ReadingPublisher:
    def __init__(self, producer: AIOKafkaProducer, partitions: int):
        self._producer = producer
        self._partitions = partitions

    @classmethod
    async def create(cls, producer: AIOKafkaProducer) -> "ReadingPublisher":
        partitions = await producer.partitions_for(READINGS_TOPIC)
        return cls(producer, len(partitions))

    async def publish(self, cols: ReadingColumns, verdict: Verdict, provenance: "Provenance | None" = None) -> None:
        now_ms = int(time.time() * 1000)
        pending = []
        accepted = np.flatnonzero(verdict.accepted)
        if len(accepted):
            part_of = cols.meter_ids[accepted] % self._partitions
            for p in np.unique(part_of):
                rows = accepted[part_of == p]
                if provenance is None:
                    value = encode_accepted(cols.take(rows), verdict.flags[rows], now_ms)
                else:
                    value = encode_accepted(cols.take(rows), verdict.flags[rows], now_ms,
                                            provenance.quality.take(rows), provenance.origin, provenance.energy_only)
                pending.append(Outgoing(READINGS_TOPIC, value, partition=int(p)))
        for i in np.flatnonzero(~verdict.accepted):
            msg = rejected_message(cols, verdict, int(i), now_ms)
            if provenance is not None:
                provenance.fill_rejected(msg, int(i))
            pending.append(Outgoing(REJECTED_TOPIC, msg.SerializeToString(), key=str(cols.meter_ids[i]).encode()))
        await send_acknowledged(self._producer, pending, "readings")


async def send_acknowledged(producer: AIOKafkaProducer | RenewableProducer, pending: list["Outgoing"],
                            what: str) -> None:
    """Send every message and await its ack; retry the unacknowledged ones on retriable errors (and, with a
    RenewableProducer, on a fresh producer after a fatal one), then fail UNAVAILABLE so that the client
    re-sends (`what` names the payload in the error)."""
    try:
        async for attempt in AsyncRetrying(stop=stop_after_attempt(SEND_ATTEMPTS), reraise=True,
                                           wait=wait_exponential(multiplier=0.2, max=5),
                                           retry=retry_if_exception(_retriable)):
            with attempt:
                pending = await _send(producer, pending)
    except KafkaError as err:
        raise unavailable(f"Kafka did not acknowledge the {what} ({err!r}); re-send them",
                          reason="KAFKA_UNAVAILABLE") from err


async def _send(producer: AIOKafkaProducer | RenewableProducer, messages: list["Outgoing"]) -> list["Outgoing"]:
    """Send and await acks; raise the first error, leaving only the unacknowledged messages to retry."""
    used = producer.current if isinstance(producer, RenewableProducer) else producer
    try:
        futures = [await used.send(m.topic, m.value, key=m.key, partition=m.partition) for m in messages]
        results = await asyncio.gather(*futures, return_exceptions=True)
    except FATAL_PRODUCER_ERRORS as err:
        results = [err] * len(messages)
    failed = [(m, r) for m, r in zip(messages, results) if isinstance(r, BaseException)]
    if failed:
        messages[:] = [m for m, _ in failed]
        if isinstance(producer, RenewableProducer) and isinstance(failed[0][1], FATAL_PRODUCER_ERRORS):
            await producer.renew(used)
            raise _Renewed() from failed[0][1]
        raise failed[0][1]
    return []


class _Renewed(KafkaError):
    """The producer died and was replaced: send the unacknowledged messages again on the new one."""
    retriable = True


SEND_ATTEMPTS = 6


@dataclass(frozen=True)
class Provenance:
    """What the readings of one publish are when they are not streamed actuals: an MDFF file's intervals
    or VEE substitutes. Arrays align with the published columns."""

    origin: str  # who or which rule made them: "nem12-import", "vee/gap", ...
    quality: ReadingQuality
    energy_only: bool = True
    source: str = ""  # "nem12:<sha256>": keys rejected rows by file, line and interval instead of Kafka
    lines: np.ndarray | None = None  # int64, the MDFF line of each reading
    index: np.ndarray | None = None  # int32, its interval in that line
    received_ms: int = 0  # when the source says it was made (the file's 100 DateTime); 0 = now
    details: np.ndarray | None = None  # object: a rejection detail that overrides the reason's ("" = none)

    def fill_rejected(self, msg: reading_pb2.RejectedReading, i: int) -> None:
        if self.source:
            msg.source, msg.source_line, msg.source_index = self.source, int(self.lines[i]), int(self.index[i])
        if self.received_ms:
            msg.received_at_unix_ms = self.received_ms
        if self.details is not None and self.details[i]:
            msg.detail = self.details[i]


@dataclass(frozen=True)
class Outgoing:
    topic: str
    value: bytes
    partition: int | None = None
    key: bytes | None = None


def _retriable(err: BaseException) -> bool:
    return isinstance(err, KafkaError) and err.retriable


def rejected_message(cols: ReadingColumns, verdict: Verdict, i: int, now_ms: int) -> reading_pb2.RejectedReading:
    reason = int(verdict.reasons[i])
    return reading_pb2.RejectedReading(
        reading=reading_pb2.Reading(
            meter_id=int(cols.meter_ids[i]),
            reading_time_unix_s=int(cols.reading_times_unix_s[i]),
            consumption_kwh=float(cols.consumption_kwh[i]),
            demand_kw=float(cols.demand_kw[i]),
            voltage_v=float(cols.voltage_v[i]),
            current_a=float(cols.current_a[i]),
            power_factor=float(cols.power_factor[i]),
            frequency_hz=float(cols.frequency_hz[i]),
        ),
        reason=reason,
        detail=describe(reason, cols, i, verdict.limits),
        received_at_unix_ms=now_ms,
    )
