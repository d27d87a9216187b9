"""Wiring of the customer service: `python -m customer_svc.server`.

One process: the gRPC API plus background tasks: the `customer` consumer group folding
meter-readings into hourly usage, the engagement gauges, and the fold of the open month's usage
summary as local days close (month_fold.fold_forever).
"""

import asyncio
from pathlib import Path

from customer_svc.config import CustomerSettings
from customer_svc.engagement import refresh_forever
from customer_svc.month_fold import fold_forever
from customer_svc.servicer import CustomerServicer
from customer_svc.store import CustomerStore
from customer_svc.usage_consumer import consume_forever
from meters import kafka, log
from meters.customer.v1 import customer_service_pb2, customer_service_pb2_grpc
from meters.db import migrate, open_pool
from meters.model_registry import ModelRegistry
from meters.security.pii import PiiKey
from meters.server import Registration, serve

MIGRATIONS = Path(__file__).parent / "migrations"


async def main(settings: CustomerSettings) -> None:
    await asyncio.to_thread(migrate, settings.pg_dsn, MIGRATIONS)
    await kafka.ensure_topics(settings.kafka_bootstrap)
    pool = await open_pool(settings.pg_dsn, statement_timeout_s=settings.pg_statement_timeout_s)
    store = CustomerStore(pool)
    servicer = CustomerServicer(store, ModelRegistry(settings.model_registry), PiiKey.from_settings(settings))

    async def consume_usage():
        await consume_forever(pool, settings.kafka_bootstrap, settings.group_id)

    async def engagement_gauges():
        await refresh_forever(pool)

    async def fold_open_month():  # the open month's usage summary, day by day (month_fold.py)
        await fold_forever(pool, store.customers_with_meters)

    await serve(
        settings,
        [Registration(customer_service_pb2_grpc.add_CustomerServiceServicer_to_server, servicer,
                      customer_service_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name)],
        background=[consume_usage, engagement_gauges, fold_open_month],
        on_stop=[pool.close],
    )


if __name__ == "__main__":
    settings = CustomerSettings()
    log.configure("customer_svc", settings.log_level)
    asyncio.run(main(settings))
