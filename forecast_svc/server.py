"""Wiring of the forecast service: `python -m forecast_svc.server`. Hosts ForecastService and, in the
same process, the `forecast` consumer group that turns meter-readings into actual demand."""

import asyncio
from pathlib import Path

import torch

from forecast_svc import actuals, metrics, promotion
from forecast_svc.config import ForecastSettings
from forecast_svc.forecaster import Forecaster, ModelCache
from forecast_svc.retrain import Retrainer
from forecast_svc.servicer import ForecastServicer
from forecast_svc.shadow import Shadow
from forecast_svc.store import ForecastStore
from forecast_svc.weather_inputs import WeatherStore
from meters import kafka, log
from meters.db import migrate, open_pool
from meters.forecast.v1 import forecast_service_pb2, forecast_service_pb2_grpc
from meters.model_lifecycle import MIGRATIONS as lifecycle_migrations
from meters.model_registry import ModelRegistry
from meters.security.tls import service_channel
from meters.server import Registration, serve

MIGRATIONS = Path(__file__).parent / "migrations"


async def main(settings: ForecastSettings) -> None:
    # The residual LSTM is tiny: torch's intra-op thread pool only adds waits for descheduled worker
    # threads on a busy box (p99 of a computed forecast 1.3 s with the default pool at load 5).
    torch.set_num_threads(1)
    await asyncio.to_thread(migrate, settings.pg_dsn, MIGRATIONS, lifecycle_migrations)
    await kafka.ensure_topics(settings.kafka_bootstrap)
    pool = await open_pool(settings.pg_dsn, max_size=6, statement_timeout_s=settings.pg_statement_timeout_s)
    store = ForecastStore(pool)
    registry = ModelRegistry()
    placements = actuals.Placements(store)
    candidate = Shadow(store, registry, settings.interval_level)  # the model in shadow, if any
    weather = WeatherStore(lambda: service_channel(settings, settings.customer_addr), settings.weather_timeout_s)
    servicer = ForecastServicer(
        Forecaster(store, ModelCache(registry), settings.interval_level, candidate.observe, weather),
        store, Retrainer(store, registry, weather), placements.invalidate)

    gauges = metrics.Refresher(store)

    async def sum_actuals():
        await actuals.consume(store, placements, settings.kafka_bootstrap, settings.actuals_group_id, gauges.poke)

    async def refresh_metrics():
        await gauges.run()

    async def refresh_shadow_scores():
        await promotion.refresh_forever(pool, registry, settings.shadow_scores_interval_s)

    await serve(
        settings,
        [Registration(forecast_service_pb2_grpc.add_ForecastServiceServicer_to_server, servicer,
                      forecast_service_pb2.DESCRIPTOR.services_by_name["ForecastService"].full_name)],
        background=[sum_actuals, refresh_metrics, refresh_shadow_scores],
        on_stop=[candidate.drain, weather.close, pool.close],
    )


if __name__ == "__main__":
    settings = ForecastSettings()
    log.configure("forecast_svc", settings.log_level)
    asyncio.run(main(settings))
