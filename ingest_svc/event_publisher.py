"""Publishes validated meter events to Kafka `meter-events`, and rejected ones with their reasons to
`meter-events-rejected`.

Accepted events travel as one AcceptedMeterEvents message per (request, partition), partition =
meter_id % partitions as readings, so a meter's events stay in order on one partition. Like readings,
`publish` returns once Kafka acknowledged everything, else fails UNAVAILABLE for the client to re-send
(the writer stores a re-sent event once).
"""

import time

import numpy as np
from aiokafka import AIOKafkaProducer

from ingest_svc.event_validation import EventColumns, describe_event
from ingest_svc.publisher import Outgoing, send_acknowledged
from ingest_svc.validation import Limits
from meters.ingest.v1 import meter_event_pb2
from meters.kafka import EVENTS_TOPIC, REJECTED_EVENTS_TOPIC


class EventPublisher:
    def __init__(self, producer: AIOKafkaProducer, partitions: int):
        self._producer = producer
        self._partitions = partitions

    @classmethod
    async def create(cls, producer: AIOKafkaProducer) -> "EventPublisher":
        return cls(producer, len(await producer.partitions_for(EVENTS_TOPIC)))

    async def publish(self, cols: EventColumns, reasons: np.ndarray, limits: Limits = Limits()) -> None:
        now_ms = int(time.time() * 1000)
        pending = []
        accepted = np.flatnonzero(reasons == 0)
        part_of = cols.meter_ids[accepted] % self._partitions
        for p in np.unique(part_of):
            value = meter_event_pb2.AcceptedMeterEvents(
                events=[cols.events[i] for i in accepted[part_of == p]], ingested_at_unix_ms=now_ms)
            pending.append(Outgoing(EVENTS_TOPIC, value.SerializeToString(), partition=int(p)))
        for i in np.flatnonzero(reasons):
            reason = int(reasons[i])
            msg = meter_event_pb2.RejectedMeterEvent(event=cols.events[i], reason=reason, received_at_unix_ms=now_ms,
                                                     detail=describe_event(reason, cols, int(i), limits))
            pending.append(Outgoing(REJECTED_EVENTS_TOPIC, msg.SerializeToString(), key=str(cols.meter_ids[i]).encode()))
        await send_acknowledged(self._producer, pending, "meter events")
