"""Wakes watch streams when a table changes: PostgreSQL LISTEN on the channel its writers NOTIFY.

Watchers also re-read on a timer, so a lost LISTEN connection delays a change, never loses it:
the store, not the notification, is the source of truth (a watcher reads `sequence > cursor`).
"""

import asyncio
import logging

import psycopg

log = logging.getLogger(__name__)


class ChangeSignal:
    def __init__(self, dsn: str, channel: str):
        self._dsn = dsn
        self._channel = channel
        self._changed = asyncio.Condition()

    async def wait(self, timeout_s: float) -> None:
        """Return at the next change, or after timeout_s."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait(), timeout_s)
            except TimeoutError:
                pass

    async def _wake(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def listen_forever(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {self._channel}")
                    async for _ in conn.notifies():
                        await self._wake()
            except psycopg.Error as err:
                log.warning("change listener lost its connection; retrying",
                            extra={"fields": {"channel": self._channel, "error": str(err)}})
                await asyncio.sleep(1)
