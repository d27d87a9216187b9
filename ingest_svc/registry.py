"""The set of registered meter ids, held as a sorted numpy array for validation."""

import asyncio
import logging

import numpy as np
from psycopg_pool import AsyncConnectionPool

from ingest_svc.metrics import KNOWN_METERS

log = logging.getLogger(__name__)


class MeterRegistry:
    def __init__(self, pool: AsyncConnectionPool):
        self._pool = pool
        self.ids = np.empty(0, dtype=np.int64)

    async def reload(self) -> None:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT id FROM meters.smart_meters ORDER BY id")
            rows = await cur.fetchall()
        self.ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        KNOWN_METERS.set(len(self.ids))

    async def refresh_forever(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.reload()
            except Exception:  # keep the last good registry; retry next tick
                log.exception("meter registry refresh failed")
