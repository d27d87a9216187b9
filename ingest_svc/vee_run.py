"""One VEE run by hand (`meters vee run`): the ingest pieces the job publishes through, assembled
in-process against the mesh's PostgreSQL and Kafka, as the ingest server assembles them."""

from ingest_svc.config import IngestSettings
from ingest_svc.ingest import Ingestor
from ingest_svc.publisher import ReadingPublisher
from ingest_svc.registry import MeterRegistry
from ingest_svc.validation import Limits
from ingest_svc.vee_job import VeeJob, VeeSummary, publish_through
from meters import kafka
from meters.db import open_pool


async def run_once(settings: IngestSettings, start_s: int, end_s: int, ray_address: str | None = None) -> VeeSummary:
    pool = await open_pool(settings.pg_dsn, statement_timeout_s=settings.pg_statement_timeout_s)
    producer = kafka.producer(settings.kafka_bootstrap)
    await producer.start()
    try:
        registry = MeterRegistry(pool)
        await registry.reload()
        ingestor = Ingestor(registry, await ReadingPublisher.create(producer), Limits(window=settings.retention_window))
        return await VeeJob(pool, publish_through(ingestor), ray_address=ray_address).run(start_s, end_s)
    finally:
        await producer.stop()
        await pool.close()

