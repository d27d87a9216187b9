"""Wiring of the alert service: `python -m alert_svc.server`."""

import asyncio
from pathlib import Path

from alert_svc import alertmanager_webhook, metrics
from alert_svc.channels import Channels
from alert_svc.config import AlertSettings
from alert_svc.escalation import Escalator
from alert_svc.escalation_policy import load_policy
from alert_svc.feed import ChangeSignal
from alert_svc.outbox import OutboxDispatcher
from alert_svc.servicer import AlertServicer
from alert_svc.store import AlertStore
from meters import log
from meters.alert.v1 import alert_service_pb2, alert_service_pb2_grpc
from meters.audit import retention as audit_retention
from meters.audit.servicer import registration as audit_registration
from meters.db import migrate, open_pool
from meters.server import Registration, serve

MIGRATIONS = Path(__file__).parent / "migrations"
GAUGE_REFRESH_S = 15.0


async def main(settings: AlertSettings) -> None:
    policy = load_policy(settings.escalation_policy_file)  # a bad policy file stops the start here
    await asyncio.to_thread(migrate, settings.pg_dsn, MIGRATIONS)
    pool = await open_pool(settings.pg_dsn, max_size=8, statement_timeout_s=settings.pg_statement_timeout_s)
    store = AlertStore(pool)
    signal = ChangeSignal(settings.pg_dsn)
    channels = Channels(settings)
    dispatcher = OutboxDispatcher(pool, channels, settings.notify_retry_base_s, settings.notify_retry_max_s,
                                  settings.notify_poll_s, wait=signal.wait,
                                  kill_after_send=settings.fault_kill_after_send)
    escalator = Escalator(pool, policy, channels.enabled, settings.escalation_poll_s)
    servicer = AlertServicer(store, signal, channels.enabled, settings.watch_poll_s)

    async def refresh_open_alerts():
        while True:
            counts = await store.open_counts()
            for severity in ("info", "warning", "critical"):
                metrics.ALERTS_OPEN.labels(severity).set(counts.get(severity, 0))
            await signal.wait(GAUGE_REFRESH_S)

    background = [signal.listen_forever, dispatcher.run_forever, escalator.run_forever, refresh_open_alerts,
                  audit_retention.background_task(settings.pg_dsn)]
    if settings.alertmanager_webhook_port:
        background.append(alertmanager_webhook.background_task(settings, store, channels.enabled))
    await serve(
        settings,
        # AuditService lives here too (docs/decisions.md 22), with the audit trail's retention job.
        [Registration(alert_service_pb2_grpc.add_AlertServiceServicer_to_server, servicer,
                      alert_service_pb2.DESCRIPTOR.services_by_name["AlertService"].full_name),
         audit_registration(pool)],
        background=background,
        on_stop=[pool.close],
    )


if __name__ == "__main__":
    settings = AlertSettings()
    log.configure("alert_svc", settings.log_level)
    asyncio.run(main(settings))
