"""Delivering alerts to alert_svc without losing one.

Alerts are written to ml.alert_outbox in the same transaction as the prediction (or outage) that
raised them, and an outage's resolution on restore the same way (kind 'resolve'); this sender drains the outbox over AlertService.CreateAlert and deletes each row only
after alert_svc accepted it. While alert_svc is down, rows wait and are retried with
exponential backoff (0.5 s doubling to 30 s); a crash between CreateAlert and the delete
re-sends, which CreateAlert's dedup_key makes harmless.
"""

import asyncio
import logging
from collections.abc import Callable

import grpc
from psycopg_pool import AsyncConnectionPool

from meters import tracing
from meters.alert.v1 import alert_service_pb2, alert_service_pb2_grpc
from scoring_svc.metrics import ALERT_OUTBOX, ALERTS_SENT, ALERT_SEND_FAILURES

log = logging.getLogger(__name__)


_REFUSED = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION)
# Answers after which a row is done with: alert_svc will never accept it.
FINAL = {"create": _REFUSED, "resolve": (*_REFUSED, grpc.StatusCode.NOT_FOUND)}


class AlertSender:
    def __init__(self, pool: AsyncConnectionPool, connect: Callable[[], grpc.aio.Channel], poll_s: float = 1.0,
                 backoff_s: tuple[float, float] = (0.5, 30.0), call_timeout_s: float = 5.0):
        self._pool = pool
        self._connect = connect  # a new channel to alert_svc (TLS with scoring's own certificate)
        self._poll_s = poll_s
        self._backoff = backoff_s
        self._timeout = call_timeout_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New rows are in the outbox: send them now rather than at the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        delay = 0.0
        async with self._connect() as channel:
            stub = alert_service_pb2_grpc.AlertServiceStub(channel)
            while True:
                try:
                    await self.drain(stub)
                    delay = 0.0
                    await self._sleep(self._poll_s)
                except (grpc.aio.AioRpcError, OSError) as err:
                    delay = min(max(delay * 2, self._backoff[0]), self._backoff[1])
                    ALERT_SEND_FAILURES.inc()
                    log.warning("alert_svc unavailable, retrying", extra={"fields": {
                        "retry_in_s": delay, "error": getattr(err, "details", lambda: str(err))()}})
                    await asyncio.sleep(delay)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass
        self._wake.clear()

    async def _send(self, stub: alert_service_pb2_grpc.AlertServiceStub, kind: str, payload: bytes) -> None:
        if kind == "resolve":
            await stub.ResolveAlert(alert_service_pb2.ResolveAlertRequest.FromString(payload), timeout=self._timeout)
        else:
            await stub.CreateAlert(alert_service_pb2.CreateAlertRequest.FromString(payload), timeout=self._timeout)

    async def drain(self, stub: alert_service_pb2_grpc.AlertServiceStub) -> int:
        """Send every alert in the outbox, oldest first; return how many were sent."""
        sent = 0
        while True:
            async with self._pool.connection() as conn, conn.transaction():
                cur = await conn.execute(
                    "SELECT id, kind, request, traceparent FROM ml.alert_outbox ORDER BY id LIMIT 100"
                    " FOR UPDATE SKIP LOCKED")
                rows = await cur.fetchall()
                if not rows:
                    ALERT_OUTBOX.set(0)
                    return sent
                done = []
                try:
                    for row_id, kind, payload, parent in rows:
                        try:
                            with tracing.resumed(f"scoring.deliver_{kind}", parent):
                                await self._send(stub, kind, bytes(payload))
                        except grpc.aio.AioRpcError as err:
                            if err.code() not in FINAL[kind]:
                                raise
                            # A request alert_svc will never accept (or a resolve of an alert already
                            # resolved by a person): keep it out of the way, logged.
                            log.error("alert request refused by alert_svc, dropped from the outbox", extra={
                                "fields": {"kind": kind, "error": err.details()}})
                        done.append(row_id)
                        sent += 1
                        ALERTS_SENT.inc()
                finally:
                    if done:
                        await conn.execute("DELETE FROM ml.alert_outbox WHERE id = ANY(%s)", [done])
                    if len(done) < len(rows):
                        await conn.execute("UPDATE ml.alert_outbox SET attempts = attempts + 1 WHERE id = ANY(%s)",
                                           [[r[0] for r in rows if r[0] not in set(done)]])
