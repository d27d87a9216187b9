"""Client side of ingest: register meters and stream readings over gRPC.

Every call has a deadline. Readings go in StreamReadings calls of at most WINDOW_BATCHES batches,
which is also what the client keeps to re-send: when ingest refuses a batch for overload
(RESOURCE_EXHAUSTED with a RetryInfo), the error says how many batches of the call were accepted;
the client waits the delay asked for and re-sends from the refused batch, so that every reading is
counted once.
"""

import itertools
import time
from collections.abc import Iterable, Iterator

import grpc

from meters.deadlines import CALL_S, STREAM_S
from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc, meter_pb2
from meters.readings import ReadingColumns, add_summaries, to_batch
from meters.security.client import ClientIdentity
from meters.security.client import channel as secure_client_channel
from meters.status_details import details_of, retry_delay_s

WINDOW_BATCHES = 16
# How long in all a stream waits to re-send refused batches before it gives up and raises.
RETRY_FOR_S = 300.0


def channel(addr: str, identity: ClientIdentity | None = None) -> grpc.Channel:
    """TLS + token from `identity` (default: the environment, meters.security.client)."""
    return secure_client_channel(addr, identity)


def batches(chunks: Iterable[ReadingColumns], batch_size: int) -> Iterator[pb.StreamReadingsRequest]:
    for chunk in chunks:
        for start in range(0, len(chunk), batch_size):
            part = chunk.take(slice(start, start + batch_size))
            yield pb.StreamReadingsRequest(batch=to_batch(part))


def stream_readings(
    ch: grpc.Channel, chunks: Iterable[ReadingColumns], batch_size: int = 10_000, window: int = WINDOW_BATCHES,
    timeout_s: float = STREAM_S, retry_for_s: float = RETRY_FOR_S,
) -> pb.StreamReadingsResponse:
    """Stream every reading; the summary of all of them (re-sent batches counted once)."""
    stub = ingest_service_pb2_grpc.IngestServiceStub(ch)
    total, requests, waited = pb.StreamReadingsResponse(), batches(chunks, batch_size), 0.0
    while group := list(itertools.islice(requests, window)):
        while group:
            try:
                merge_response(total, stub.StreamReadings(iter(group), timeout=timeout_s))
                group = []
            except grpc.RpcError as err:
                done = accepted_part(err)
                delay = retry_delay_s(err)
                if err.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or delay is None or waited + delay > retry_for_s:
                    raise
                merge_response(total, done)
                group = group[done.batches:]
                time.sleep(delay)
                waited += delay
    return total


def accepted_part(err: grpc.RpcError) -> pb.StreamReadingsResponse:
    """What a failed StreamReadings call had accepted before it failed (nothing, if it says nothing)."""
    parts = details_of(err, pb.StreamReadingsResponse)
    return parts[0] if parts else pb.StreamReadingsResponse()


def merge_response(total: pb.StreamReadingsResponse, part: pb.StreamReadingsResponse) -> None:
    add_summaries(total.summary, part.summary)
    total.batches += part.batches


def stream_meter_events(ch: grpc.Channel, frames: Iterable, batch: int = 5_000,
                        timeout_s: float = STREAM_S) -> pb.StreamMeterEventsResponse:
    """Stream meter event frames (meters.fleet iter_meter_events' columns: event_id, meter_id, type,
    event_time_unix_ms, detail) in one StreamMeterEvents call, `batch` events a message."""
    from meters.ingest.v1.meter_event_pb2 import MeterEvent, MeterEventBatch

    def requests():
        for frame in frames:
            for start in range(0, len(frame), batch):
                yield pb.StreamMeterEventsRequest(batch=MeterEventBatch(events=[
                    MeterEvent(event_id=r.event_id, meter_id=int(r.meter_id), type=int(r.type),
                               event_time_unix_ms=int(r.event_time_unix_ms), detail=r.detail)
                    for r in frame.iloc[start:start + batch].itertuples(index=False)]))

    return ingest_service_pb2_grpc.IngestServiceStub(ch).StreamMeterEvents(requests(), timeout=timeout_s)


def register_meters(ch: grpc.Channel, meters: Iterable[meter_pb2.Meter], per_call: int = 20_000) -> int:
    """Register meters in calls of `per_call`; return how many were new."""
    stub = ingest_service_pb2_grpc.IngestServiceStub(ch)
    created, pending = 0, []
    for meter in meters:
        pending.append(meter)
        if len(pending) == per_call:
            created += stub.BatchCreateMeters(pb.BatchCreateMetersRequest(meters=pending),
                                              timeout=CALL_S).created
            pending = []
    if pending:
        created += stub.BatchCreateMeters(pb.BatchCreateMetersRequest(meters=pending), timeout=CALL_S).created
    return created
