"""Wiring of the ingest gRPC service: `python -m ingest_svc.server`."""

import asyncio
from pathlib import Path

from ingest_svc.config import IngestSettings
from ingest_svc.drop_folder import drop_folder_tasks
from ingest_svc.import_ledger import LedgeredImporter
from ingest_svc.event_ingest import EventIngestor
from ingest_svc.event_publisher import EventPublisher
from ingest_svc.ingest import Ingestor
from ingest_svc.nem12_import import ImportOptions, Nem12Importer
from ingest_svc.publisher import ReadingPublisher
from ingest_svc.registry import MeterRegistry
from ingest_svc.validation import Limits
from ingest_svc.vee_job import VeeJob, publish_through
from ingest_svc.servicer import IngestServicer
from ingest_svc.store import MeterStore
from meters import kafka, log
from meters.admission import Budget
from meters.db import migrate, open_pool
from meters.ingest.v1 import ingest_service_pb2, ingest_service_pb2_grpc
from meters import retention
from meters.security.pii import PiiKey
from meters.server import Registration, serve

MIGRATIONS = Path(__file__).parent / "migrations"
# The daily-partitioned tables of the `meters` schema that the retention job trims.
RETAINED = ("meters.meter_readings", "meters.rejected_readings", "meters.meter_events",
            "meters.rejected_meter_events")


async def main(settings: IngestSettings) -> None:
    await asyncio.to_thread(migrate, settings.pg_dsn, MIGRATIONS)
    await kafka.ensure_topics(settings.kafka_bootstrap)
    pool = await open_pool(settings.pg_dsn, statement_timeout_s=settings.pg_statement_timeout_s)
    producer = kafka.RenewableProducer(settings.kafka_bootstrap)
    await producer.start()
    registry = MeterRegistry(pool)
    await registry.reload()
    inflight = Budget("readings", settings.max_inflight_readings, settings.overload_retry_after_s)
    ingestor = Ingestor(registry, await ReadingPublisher.create(producer), Limits(window=settings.retention_window),
                        inflight)
    pii = PiiKey.from_settings(settings)
    store = MeterStore(pool, pii)
    importer = LedgeredImporter(Nem12Importer(ingestor, store.meters_by_number, pii, ImportOptions(
        settings.nem12_participant, frozenset(s.strip() for s in settings.nem12_import_suffixes.split(",")))), pool)
    events = EventIngestor(registry, await EventPublisher.create(producer), Limits(window=settings.retention_window),
                           inflight)
    servicer = IngestServicer(ingestor, store, registry, importer, settings, events)

    async def refresh_registry():
        await registry.refresh_forever(settings.registry_refresh_s)

    background = [refresh_registry, retention.background_task(settings.pg_dsn, settings, RETAINED)]
    background += drop_folder_tasks(settings, importer)  # METERS_NEM12_DROP_DIR, when set
    if settings.vee_every_s > 0:
        background.append(VeeJob(pool, publish_through(ingestor)).background_task(settings.vee_every_s,
                                                                                   settings.vee_window_s))

    await serve(
        settings,
        [Registration(ingest_service_pb2_grpc.add_IngestServiceServicer_to_server, servicer,
                      ingest_service_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name)],
        background=background,
        on_stop=[producer.stop, pool.close],
    )


if __name__ == "__main__":
    settings = IngestSettings()
    log.configure("ingest_svc", settings.log_level)
    asyncio.run(main(settings))
