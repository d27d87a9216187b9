"""Client side of ingest: register meters and stream readings over gRPC."""

from collections.abc import Iterable, Iterator

import grpc

from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc, meter_pb2
from meters.readings import ReadingColumns, to_batch
from meters.security.client import ClientIdentity
from meters.security.client import channel as secure_client_channel


def channel(addr: str, identity: ClientIdentity | None = None) -> grpc.Channel:
    """TLS + token from `identity` (default: the environment, meters.security.client)."""
    return secure_client_channel(addr, identity)


def batches(chunks: Iterable[ReadingColumns], batch_size: int) -> Iterator[pb.StreamReadingsRequest]:
    for chunk in chunks:
        for start in range(0, len(chunk), batch_size):
            part = chunk.take(slice(start, start + batch_size))
            yield pb.StreamReadingsRequest(batch=to_batch(part))


def stream_readings(
    ch: grpc.Channel, chunks: Iterable[ReadingColumns], batch_size: int = 10_000
) -> pb.StreamReadingsResponse:
    stub = ingest_service_pb2_grpc.IngestServiceStub(ch)
    return stub.StreamReadings(batches(chunks, batch_size))


def register_meters(ch: grpc.Channel, meters: Iterable[meter_pb2.Meter], per_call: int = 20_000) -> int:
    """Register meters in calls of `per_call`; return how many were new."""
    stub = ingest_service_pb2_grpc.IngestServiceStub(ch)
    created, pending = 0, []
    for meter in meters:
        pending.append(meter)
        if len(pending) == per_call:
            created += stub.BatchCreateMeters(pb.BatchCreateMetersRequest(meters=pending)).created
            pending = []
    if pending:
        created += stub.BatchCreateMeters(pb.BatchCreateMetersRequest(meters=pending)).created
    return created
