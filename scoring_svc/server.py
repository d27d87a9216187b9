"""Wiring of the scoring service: `python -m scoring_svc.server`.

One process serves ScoringService and OutageService over gRPC, runs the `scoring` consumer group on
meter-readings and (on the replica holding its lock) the outage detector on meter-events, and drains
the alert outbox into alert_svc. Models load from the
registry's promoted versions at start; SIGHUP (or the ReloadModels RPC) reloads them.
"""

import os

# One thread in every native pool (OpenBLAS under numpy, OpenMP under xgboost and torch), set before
# any of them loads: idle pool threads spin for a while after each call and, on a 2-core box, took
# the core the next call needed (bench: p99 13-67 ms with the default pools, 7-11 ms with one).
for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")

import asyncio
import signal
from pathlib import Path

from meters import log
from meters.alert.v1 import alert_service_pb2_grpc
from meters.db import migrate, open_pool
from meters import kafka, retention
from meters.model_registry import ModelRegistry
from meters.change_signal import ChangeSignal
from meters.scoring.v1 import outage_service_pb2, outage_service_pb2_grpc, scoring_service_pb2, scoring_service_pb2_grpc
from meters.security.tls import service_channel
from meters.server import Registration, serve
from scoring_svc.alerts import AlertSender
from scoring_svc.anomalies import AnomalyScorer
from scoring_svc.config import ScoringSettings
from scoring_svc.consumer import StreamScorer
from scoring_svc.failure import FailurePredictions
from scoring_svc.history import MeterHistory
from scoring_svc.metrics import GridLoadGauges
from scoring_svc.outage_servicer import OutageServicer
from scoring_svc.outage_store import NOTIFY_CHANNEL, OutageStore
from scoring_svc.outage_stream import OutageStream, ReadingsLookup, StreamConfig
from scoring_svc.outages.detector import DetectorConfig
from scoring_svc.predictors import Models
from scoring_svc.servicer import ScoringServicer
from scoring_svc.store import ScoringStore

MIGRATIONS = Path(__file__).parent / "migrations"
# The daily-partitioned tables of scoring's schemas that the retention job trims.
RETAINED = ("ml.predictions",)


async def main(settings: ScoringSettings) -> None:
    await asyncio.to_thread(migrate, settings.pg_dsn, MIGRATIONS)
    models = Models(ModelRegistry(settings.model_registry), settings)
    await asyncio.to_thread(models.reload)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(asyncio.to_thread(models.reload)))

    pool = await open_pool(settings.pg_dsn, max_size=6, statement_timeout_s=settings.pg_statement_timeout_s)
    store = ScoringStore(pool)
    sender = AlertSender(pool, lambda: service_channel(settings, settings.alert_addr), settings.outbox_poll_s)
    scorer = AnomalyScorer(models, MeterHistory())
    failures = FailurePredictions(store, models, on_alert=sender.wake)
    alert_channel = service_channel(settings, settings.alert_addr)
    load_gauges = GridLoadGauges(pool)
    servicer = ScoringServicer(models, scorer, failures, store, sender,
                               alert_service_pb2_grpc.AlertServiceStub(alert_channel), on_telemetry=load_gauges.wake)
    background = [sender.run_forever, load_gauges.run_forever,
                  retention.background_task(settings.pg_dsn, settings, RETAINED)]
    outages = OutageStore(pool)
    outage_signal = ChangeSignal(settings.pg_dsn, NOTIFY_CHANNEL)
    background.append(outage_signal.listen_forever)
    if settings.group_id or settings.outage_detector:
        await kafka.ensure_topics(settings.kafka_bootstrap)
    if settings.outage_detector:
        readings = ReadingsLookup(lambda: service_channel(settings, settings.ingest_addr))
        background.append(OutageStream(
            settings.pg_dsn, settings.kafka_bootstrap, outages, sender, readings,
            DetectorConfig(**settings.outage_detector_config), StreamConfig(checkpoint_s=settings.outage_checkpoint_s,
                                                          resume_check_s=settings.outage_resume_check_s),
        ).run_forever)
    if settings.group_id:
        stream = StreamScorer(settings.kafka_bootstrap, settings.group_id, scorer, models, store, sender,
                              settings.max_messages_per_write)
        background.append(stream.run_forever)

    async def close_channel():
        await alert_channel.close()

    outage_servicer = OutageServicer(outages, outage_signal)

    await serve(
        settings,
        [Registration(scoring_service_pb2_grpc.add_ScoringServiceServicer_to_server, servicer,
                      scoring_service_pb2.DESCRIPTOR.services_by_name["ScoringService"].full_name),
         Registration(outage_service_pb2_grpc.add_OutageServiceServicer_to_server,
                      outage_servicer,
                      outage_service_pb2.DESCRIPTOR.services_by_name["OutageService"].full_name)],
        background=background,
        on_stop=[close_channel, outage_servicer.close, pool.close],
    )


if __name__ == "__main__":
    settings = ScoringSettings()
    log.configure("scoring_svc", settings.log_level)
    asyncio.run(main(settings))
