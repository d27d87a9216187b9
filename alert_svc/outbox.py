"""Drains the notification outbox: each due (alert, channel) row is sent, then marked delivered in the
transaction that holds its row lock, or rescheduled with exponential backoff. After each round,
alerts whose deliveries all succeeded get `notified_at` (and a NOTIFIED change).

Rows are claimed with FOR UPDATE SKIP LOCKED, so several replicas can drain one outbox and no row is
sent by two at once. Channels drain concurrently, so one channel being down delays only itself.
A follow-up (acknowledge, resolve) waits until its channel's trigger (of the same escalation tier) is
delivered: a PagerDuty resolve that overtook its trigger would leave the incident open for good.
"""

import asyncio
import logging
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from alert_svc import metrics
from alert_svc.channels import Channels
from alert_svc.store import lock_sequence, next_sequence

log = logging.getLogger(__name__)


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Delay before retry number `attempts` (1-based): base * 2^(attempts-1), capped, with ±20 % jitter."""
    return min(base_s * 2 ** (attempts - 1), max_s) * random.uniform(0.8, 1.2)


class OutboxDispatcher:
    def __init__(self, pool: AsyncConnectionPool, channels: Channels, base_s: float, max_s: float, poll_s: float,
                 wait: Callable[[float], Awaitable[None]] = asyncio.sleep, kill_after_send: str = ""):
        self._wait = wait  # woken early by new alerts when given the change signal
        self._kill_after_send = kill_after_send  # fault injection (AlertSettings.fault_kill_after_send)
        self._pool = pool
        self._channels = channels
        self._base_s, self._max_s, self._poll_s = base_s, max_s, poll_s

    async def deliver_one(self, channel: str) -> bool:
        """Send the most overdue notification of `channel`; False when none is due."""
        async with self._pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                """SELECT o.id AS outbox_id, o.attempts, o.action, o.tier, t.external_id, a.*
                   FROM alerts.outbox o JOIN alerts.alerts a ON a.id = o.alert_id
                   JOIN alerts.outbox t ON t.alert_id = o.alert_id AND t.channel = o.channel AND t.action = 'trigger'
                     AND t.tier = o.tier
                   WHERE o.channel = %s AND o.delivered_at IS NULL AND o.next_attempt_at <= now()
                     AND (o.action = 'trigger' OR t.delivered_at IS NOT NULL)
                   ORDER BY o.next_attempt_at, o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED""", [channel])
            row = await cur.fetchone()
            if row is None:
                return False
            attempts = row["attempts"] + 1
            started = time.perf_counter()
            try:
                external_id = await self._channels.send(channel, row)
            except Exception as err:  # noqa: BLE001 - any failure is retried later
                metrics.NOTIFICATIONS_FAILED.labels(channel).inc()
                delay = backoff_s(attempts, self._base_s, self._max_s)
                log.warning("notification failed; will retry", extra={"fields": {
                    "alert_id": row["id"], "channel": channel, "attempts": attempts, "retry_in_s": round(delay, 2),
                    "error": repr(err)}})
                await conn.execute(
                    """UPDATE alerts.outbox SET attempts = %s, last_error = %s,
                         next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s""",
                    [attempts, repr(err)[:1000], delay, row["outbox_id"]])
                return True
            finally:
                metrics.DELIVERY_SECONDS.labels(channel).observe(time.perf_counter() - started)
            if self._kill_after_send in (channel, "any"):  # tests only: die between the send and its commit
                os.kill(os.getpid(), signal.SIGKILL)
            await conn.execute("UPDATE alerts.outbox SET attempts = %s, delivered_at = now(), last_error = NULL,"
                               " external_id = coalesce(%s, external_id) WHERE id = %s",
                               [attempts, external_id, row["outbox_id"]])
            metrics.NOTIFICATIONS_DELIVERED.labels(channel).inc()
            return True

    async def mark_notified(self) -> int:
        """Set notified_at on alerts whose every delivery succeeded; return how many.

        Runs in its own transaction after the channels' deliveries committed (concurrent per-channel
        transactions cannot see each other's last delivery), and takes the sequence lock before any row lock.
        """
        async with self._pool.connection() as conn, conn.transaction():
            await lock_sequence(conn)
            cur = await conn.execute(
                """SELECT a.id FROM alerts.alerts a WHERE a.notified_at IS NULL
                     AND EXISTS (SELECT 1 FROM alerts.outbox o WHERE o.alert_id = a.id)
                     AND NOT EXISTS (SELECT 1 FROM alerts.outbox o WHERE o.alert_id = a.id AND o.action = 'trigger'
                                     AND o.tier = 1 AND o.delivered_at IS NULL)
                   ORDER BY a.id FOR UPDATE""")
            ids = [r[0] for r in await cur.fetchall()]
            for alert_id in ids:
                seq = await next_sequence(conn)
                await conn.execute("UPDATE alerts.alerts SET notified_at = now(), sequence = %s,"
                                   " last_change = 'notified', updated_at = now() WHERE id = %s", [seq, alert_id])
            return len(ids)

    async def drain_channel(self, channel: str) -> None:
        while await self.deliver_one(channel):
            pass

    async def refresh_gauges(self) -> None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT channel, count(*) FROM alerts.outbox WHERE delivered_at IS NULL GROUP BY channel")
            pending = dict(await cur.fetchall())
        for channel in ("pagerduty", "teams", "email", "servicenow"):
            metrics.OUTBOX_PENDING.labels(channel).set(pending.get(channel, 0))

    async def run_forever(self) -> None:
        channels = sorted(self._channels.enabled)
        log.info("notification channels", extra={"fields": {"enabled": channels}})
        while True:
            try:
                await asyncio.gather(*(self.drain_channel(c) for c in channels))
                await self.mark_notified()
                await self.refresh_gauges()
            except Exception:  # noqa: BLE001 - the database may be briefly away; the outbox keeps the work
                log.exception("outbox drain failed; retrying")
            await self._wait(self._poll_s)
