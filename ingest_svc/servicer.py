"""IngestService: translates messages and delegates; no business logic here."""

import time

from ingest_svc.config import IngestSettings
from ingest_svc.event_ingest import EventIngestor
from ingest_svc.event_store import list_meter_events
from ingest_svc.ingest import Ingestor
from ingest_svc.nem12_export import export_nem12
from ingest_svc.import_ledger import LedgeredImporter
from ingest_svc.meter_validation import meter_violations
from ingest_svc.nem12_upload import Upload
from ingest_svc.registry import MeterRegistry
from ingest_svc.store import MeterStore
from meters.audit import call as audited
from meters.errors import DomainError, FieldViolation, invalid_argument
from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import meter_event_pb2
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest.v1.reading_pb2 import IngestSummary
from meters.names import parse_id
from meters.paging import decode_token, encode_token, page_size
from meters.readings import add_counts, add_summaries


class IngestServicer(ingest_service_pb2_grpc.IngestServiceServicer):
    def __init__(self, ingestor: Ingestor, store: MeterStore, registry: MeterRegistry, importer: LedgeredImporter,
                 settings: IngestSettings, events: EventIngestor):
        self._ingestor = ingestor
        self._events = events
        self._store = store
        self._registry = registry
        self._importer = importer
        self._settings = settings

    async def StreamReadings(self, request_iterator, context):
        total, batches = await stream_batches(request_iterator, self._ingestor.ingest, IngestSummary(), add_summaries,
                                              pb.StreamReadingsResponse)
        return pb.StreamReadingsResponse(summary=total, batches=batches)

    async def IngestReadings(self, request, context):
        return pb.IngestReadingsResponse(summary=await self._ingestor.ingest(request.batch))

    async def ImportNem12(self, request_iterator, context):
        upload = Upload(self._settings.nem12_max_file_bytes)
        try:
            async for request in request_iterator:
                upload.add(request.file_name, request.chunk)
            return pb.ImportNem12Response(summary=await upload.import_with(self._importer))
        finally:
            upload.close()

    async def ImportNem12File(self, request, context):
        upload = Upload(self._settings.nem12_max_file_bytes)
        try:
            upload.add(request.file_name, request.content)
            return pb.ImportNem12FileResponse(summary=await upload.import_with(self._importer))
        finally:
            upload.close()

    async def ExportNem12(self, request, context):
        chunks = await export_nem12(self._store, request.nmi, request.start_time_unix_s, request.end_time_unix_s,
                                    request.interval_minutes, self._settings.nem12_participant)
        for chunk in chunks:
            yield pb.ExportNem12Response(chunk=chunk)

    async def BatchCreateMeters(self, request, context):
        async with audited(self._store.pool, "meters", "batch_create") as change:
            if bad := meter_violations(list(request.meters)):
                raise invalid_argument("invalid meters", *bad[:100])
            created = await self._store.create_meters(list(request.meters), change)
        await self._registry.reload()
        return pb.BatchCreateMetersResponse(created=created, already_existed=len(request.meters) - created)

    async def ListMeters(self, request, context):
        limit = page_size(request.page_size, 100, 1000)
        after = decode_token(request.page_token, 1)
        meters = await self._store.list_meters(after[0] if after else 0, limit + 1, request.transformer_id)
        token = encode_token([meters[limit - 1].meter_id]) if len(meters) > limit else ""
        return pb.ListMetersResponse(meters=meters[:limit], next_page_token=token)

    async def GetMeter(self, request, context):
        return pb.GetMeterResponse(meter=await self._store.get_meter(parse_id(request.name, "meters")))

    async def ListReadings(self, request, context):
        meter_id = parse_id(request.parent, "meters", "parent")
        limit = page_size(request.page_size, 1000, 10000)
        end = time_range_end(request.start_time_unix_s, request.end_time_unix_s, "unix_s", 1)
        await self._require_meter(meter_id)
        after = decode_token(request.page_token, 1)
        readings = await self._store.list_readings(
            meter_id, request.start_time_unix_s, end, after[0] if after else None, limit + 1
        )
        token = encode_token([readings[limit - 1].reading_time_unix_s]) if len(readings) > limit else ""
        return pb.ListReadingsResponse(readings=readings[:limit], next_page_token=token)

    async def StreamMeterEvents(self, request_iterator, context):
        total, batches = await stream_batches(request_iterator, self._events.ingest,
                                              meter_event_pb2.MeterEventSummary(), add_counts,
                                              pb.StreamMeterEventsResponse)
        return pb.StreamMeterEventsResponse(summary=total, batches=batches)

    async def IngestMeterEvents(self, request, context):
        return pb.IngestMeterEventsResponse(summary=await self._events.ingest(request.batch))

    async def ListMeterEvents(self, request, context):
        meter_id = parse_id(request.parent, "meters", "parent")
        limit = page_size(request.page_size, 1000, 10000)
        end = time_range_end(request.start_time_unix_ms, request.end_time_unix_ms, "unix_ms", 1000)
        await self._require_meter(meter_id)
        after = decode_token(request.page_token, 2)
        rows = await list_meter_events(self._store.pool, meter_id, request.start_time_unix_ms, end,
                                       tuple(after) if after else None, limit + 1)
        token = ""
        if len(rows) > limit:
            last, row_id = rows[limit - 1]
            token = encode_token([last.event_time_unix_ms, row_id])
        return pb.ListMeterEventsResponse(events=[e for e, _ in rows[:limit]], next_page_token=token)

    async def _require_meter(self, meter_id: int) -> None:
        """NOT_FOUND (with details) when no such meter is registered."""
        if not await self._store.meter_exists(meter_id):
            await self._store.get_meter(meter_id)  # raises NOT_FOUND with details


def time_range_end(start: int, end: int, unit: str, per_second: int) -> int:
    """The range's end (0 = ten years from now); INVALID_ARGUMENT when the range is empty or negative."""
    end = end or (int(time.time()) + 10 * 365 * 86400) * per_second
    if start < 0 or end <= start:
        raise invalid_argument("the time range is empty or negative",
                               FieldViolation(f"end_time_{unit}", f"must be after start_time_{unit}"))
    return end


async def stream_batches(request_iterator, ingest, total, add, response_cls):
    """Ingest each request's batch in turn, adding its summary to `total`; (total, batches).

    When a batch fails, the ones before it were published: the error says how many (and their summary,
    as a `response_cls` detail), so that the client re-sends from this one (after RetryInfo's delay when
    refused for overload) and counts every item once."""
    batches = 0
    async for request in request_iterator:
        try:
            part = await ingest(request.batch, field=f"requests[{batches}].batch")
        except DomainError as err:
            err.metadata["accepted_batches"] = str(batches)
            err.details.append(response_cls(summary=total, batches=batches))
            raise
        add(total, part)
        batches += 1
    return total, batches
