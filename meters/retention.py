"""The retention job: whole daily partitions past the window are detached, then dropped.

Each service runs one over the partitioned tables of its own schema (decision 5) as a background
task of its server (decision 18): `RetentionJob(dsn, tables, window).run_forever(interval_s)`.
A partition is dropped only when all of it is older than the window's edge day and the day before
(`RetentionWindow.drop_before`), so today's partition and the edge's are never touched. Detaching
uses CONCURRENTLY, so ingest keeps writing to the parent meanwhile; a job killed between the detach
and the drop leaves a detached table that the next round finds by name and drops.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from prometheus_client import Counter, Gauge
from psycopg import AsyncConnection

from meters import partitions
from meters.audit.writer import record_partition_drop
from meters.partitions import Partition
from meters.retention_window import RetentionSettings, RetentionWindow

log = logging.getLogger(__name__)

PARTITIONS_DROPPED = Counter("meters_retention_partitions_dropped_total",
                             "Daily partitions dropped by the retention job, by table.", ["table"])
ROWS_DROPPED = Counter("meters_retention_rows_dropped_total",
                       "Rows in the partitions the retention job dropped, by table.", ["table"])
LAST_RUN = Gauge("meters_retention_last_success_timestamp_seconds",
                 "When the retention job last completed a round without error.")

# Called inside the transaction that drops a partition, with its row count: where the audit record of
# the drop belongs, so the drop and its record commit together or not at all.
OnDrop = Callable[[AsyncConnection, Partition, int], Awaitable[None]]


@dataclass(frozen=True)
class Dropped:
    partition: Partition
    rows: int


class RetentionJob:
    def __init__(self, dsn: str, tables: Sequence[str], window: RetentionWindow, on_drop: OnDrop | None = None):
        self._dsn = dsn
        self._tables = list(tables)
        self._window = window
        self._on_drop = on_drop

    async def run_once(self, now_s: int | None = None) -> list[Dropped]:
        """One round over every table; `now_s` overrides the clock (tests)."""
        now_s = int(time.time()) if now_s is None else now_s
        before = self._window.drop_before(now_s)
        if before > datetime.fromtimestamp(now_s // partitions.DAY_S * partitions.DAY_S, UTC):
            raise ValueError(f"retention edge {before} is not before today: refusing to drop anything")
        dropped: list[Dropped] = []
        # Autocommit: DETACH ... CONCURRENTLY cannot run inside a transaction block.
        async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
            for table in self._tables:
                dropped += await self._table(conn, table, before)
        LAST_RUN.set_to_current_time()
        return dropped

    async def _table(self, conn: AsyncConnection, table: str, before: datetime) -> list[Dropped]:
        if not await partitions.is_partitioned(conn, table):
            log.warning("retention skips a table that is not partitioned", extra={"fields": {"table": table}})
            return []
        # One job per table at a time, whatever the number of replicas: the others skip this round.
        key = f"retention:{table}"
        if not (await (await conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])).fetchone())[0]:
            return []
        try:
            done = []
            for part in await partitions.expired(conn, table, before):
                await partitions.detach(conn, part)
                async with conn.transaction():
                    rows = await partitions.drop(conn, part)
                    if self._on_drop is not None:
                        await self._on_drop(conn, part, rows)
                PARTITIONS_DROPPED.labels(table).inc()
                ROWS_DROPPED.labels(table).inc(rows)
                log.info("partition dropped past the retention window", extra={"fields": {
                    "table": table, "partition": part.name, "rows": rows, "upper_bound": part.upper.isoformat(),
                    "window_months": self._window.months}})
                done.append(Dropped(part, rows))
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])

    async def run_forever(self, interval_s: float) -> None:
        """A round now and every `interval_s`; a failed round is logged and retried at the next."""
        while True:
            try:
                await self.run_once()
            except (psycopg.Error, OSError) as err:
                log.warning("retention round failed", extra={"fields": {"error": repr(err)}})
            await asyncio.sleep(interval_s)


def background_task(dsn: str, settings: RetentionSettings, tables: Sequence[str]) -> Callable[[], Awaitable[None]]:
    """A service's retention job over its own `tables`, as a background task for meters.server.serve."""

    async def drop_expired_partitions() -> None:
        job = RetentionJob(dsn, tables, settings.retention_window, on_drop=record_partition_drop)
        await job.run_forever(settings.retention_interval_s)

    return drop_expired_partitions
