"""The VEE job over stored readings: `meters vee run --from --to`, and a scheduled run in the ingest
server (`METERS_VEE_EVERY_S`).

For each chunk of active meters it reads their stored readings of the window and `history_days`
before it, plans the edits of each meter (meters/vee/plan.py: gaps and short suspect runs get
substitutes, stored substitutes are left alone) and publishes the substitutes through the normal
ingest path: to the `meter-readings` topic as readings with quality S or E, their method flag and
the rule that made them, so the writer stores them like any reading and records each edit
(before, after, rule, when) in meters.reading_edits in the same transaction. An actual arriving
later replaces the substitute by the writer's rule, and that is recorded as an edit too.

Planning is independent per meter: with `ray_address` (`meters vee run --ray ADDRESS` or
METERS_RAY_ADDRESS; meters/ray_batch.py) each chunk's meters are planned as Ray tasks of
`task_meters` meters each, the reads and the publishing staying in this process; the edits, and
so what is published, are the same as planned here (tests/test_ray_batch.py).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
from psycopg_pool import AsyncConnectionPool

from ingest_svc.ingest import Ingestor
from ingest_svc.publisher import Provenance
from ingest_svc.vee_store import StoredReadings, meter_chunk, read_readings
from meters.ray_batch import connected, run_batch
from meters.readings import ReadingColumns, ReadingQuality
from meters.vee.plan import GAP, SPIKE, ZERO_RUN, Edits, PlanConfig, interval_of, plan

log = logging.getLogger(__name__)
DAY_S = 86_400
RULES = {GAP: "vee/gap", ZERO_RUN: "vee/zero_run", SPIKE: "vee/spike"}
TASK_METERS = 250  # meters per Ray task: 4 tasks of a 1000-meter chunk

# (substitute readings, their quality letters, their method flags, the rule that made them)
Publish = Callable[[ReadingColumns, np.ndarray, np.ndarray, str], Awaitable[None]]


@dataclass
class VeeSummary:
    meters: int = 0
    substitutes: dict = field(default_factory=lambda: {GAP: 0, ZERO_RUN: 0, SPIKE: 0})
    left_suspect: int = 0  # suspect intervals in runs too long to substitute


@dataclass(frozen=True)
class PlanTask:
    """The meters of one task: their stored readings (window and history), the window, now."""
    stored: StoredReadings
    window: tuple[int, int]
    now_s: int
    cfg: PlanConfig


@dataclass(frozen=True)
class Planned:
    meters: int
    left_suspect: int
    parts: list  # (meter id, its interval s, its Edits) of meters with edits, in meter order


def plan_meters(task: PlanTask) -> Planned:
    """The edits of each meter of `task` (module level: a Ray task runs it on a worker)."""
    stored, meters, left, parts = task.stored, 0, 0, []
    for meter, rows in stored.by_meter():
        edits = plan(stored.ends_s[rows], stored.kwh[rows], stored.quality[rows], task.window, task.now_s, task.cfg)
        meters += 1
        left += edits.left_suspect
        if len(edits):
            parts.append((meter, interval_of(stored.ends_s[rows]), edits))
    return Planned(meters, left, parts)


def plan_chunk(stored: StoredReadings, window: tuple[int, int], now_s: int, cfg: PlanConfig = PlanConfig(),
               ray_address: str | None = None, task_meters: int = TASK_METERS) -> Planned:
    """`plan_meters` over a chunk: here, or as Ray tasks of `task_meters` meters each."""
    tasks = [PlanTask(part, window, now_s, cfg) for part in stored.split(task_meters)]
    done = run_batch(plan_meters, tasks, ray_address, label="vee plans", progress=False)
    return Planned(sum(p.meters for p in done), sum(p.left_suspect for p in done),
                   [part for p in done for part in p.parts])


class VeeJob:
    def __init__(self, pool: AsyncConnectionPool, publish: Publish, cfg: PlanConfig = PlanConfig(),
                 history_days: int = 56, chunk_meters: int = 1000, clock: Callable[[], float] = time.time,
                 ray_address: str | None = None, task_meters: int = TASK_METERS):
        self._pool = pool
        self._publish = publish
        self._cfg = cfg
        self._history_s = history_days * DAY_S
        self._chunk = chunk_meters
        self._clock = clock
        self._ray = ray_address
        self._task_meters = task_meters

    async def run(self, start_s: int, end_s: int) -> VeeSummary:
        """One pass over every active meter for interval ends in [start_s, end_s)."""
        summary, after = VeeSummary(), 0
        now_s = int(self._clock())
        with connected(self._ray) if self._ray else nullcontext():  # one Ray connection for the run
            while True:
                async with self._pool.connection() as conn:
                    ids = await meter_chunk(conn, after, self._chunk)
                    if not ids:
                        break
                    stored = await read_readings(conn, ids, start_s - self._history_s, end_s)
                after = ids[-1]
                planned = plan_chunk(stored, (start_s, end_s), now_s, self._cfg, self._ray, self._task_meters)
                summary.meters += planned.meters
                summary.left_suspect += planned.left_suspect
                await self._publish_parts(planned.parts, summary)
        log.info("vee run done", extra={"fields": {"start_s": start_s, "end_s": end_s, "meters": summary.meters,
                                                   **summary.substitutes, "left_suspect": summary.left_suspect}})
        return summary

    async def _publish_parts(self, parts: list[tuple[int, int, Edits]], summary: VeeSummary) -> None:
        if not parts:
            return
        meter = np.concatenate([np.full(len(e), m, dtype=np.int64) for m, _, e in parts])
        hours = np.concatenate([np.full(len(e), i / 3600) for _, i, e in parts])
        ends = np.concatenate([e.ends_s for *_, e in parts])
        kwh = np.concatenate([e.kwh for *_, e in parts])
        quality = np.concatenate([e.quality for *_, e in parts])
        method = np.concatenate([e.method for *_, e in parts])
        reason = np.concatenate([e.reason for *_, e in parts])
        unknown = np.full(len(meter), np.nan)  # a substitute estimates energy only
        cols = ReadingColumns(meter, ends, kwh, kwh / hours, unknown, unknown, unknown)
        for r, rule in RULES.items():
            rows = np.flatnonzero(reason == r)
            if len(rows):
                await self._publish(cols.take(rows), quality[rows], method[rows], rule)
                summary.substitutes[r] += len(rows)

    def background_task(self, every_s: float, window_s: int) -> Callable[[], Awaitable[None]]:
        async def task():
            await self.run_forever(every_s, window_s)
        return task

    async def run_forever(self, every_s: float, window_s: int) -> None:
        """Scheduled runs over the last `window_s` (ending now), every `every_s`; a failed round is logged
        and the next one tries again (a round repeats nothing a previous one stored)."""
        while True:
            now = int(self._clock())
            try:
                await self.run(now - window_s, now + 1)
            except Exception as err:  # noqa: BLE001 - the schedule outlives one bad round
                log.warning("vee run failed", extra={"fields": {"error": repr(err)}})
            await asyncio.sleep(every_s)


def publish_through(ingestor: Ingestor, clock: Callable[[], float] = time.time) -> Publish:
    """Substitutes into the ingest path: validated like any reading, sent to Kafka with their quality and
    rule, versioned by when they were made (so a later actual or version replaces them)."""
    async def publish(cols: ReadingColumns, quality: np.ndarray, method: np.ndarray, rule: str) -> None:
        n = len(cols)
        nem = ReadingQuality(np.asarray(quality, "<U1").astype("S1"), np.asarray(method, np.int16),
                             np.zeros(n, np.int16), np.full(n, int(clock()), np.int64))
        summary = await ingestor.ingest_columns(cols, Provenance(rule, nem))
        if summary.rejected:
            log.warning("vee substitutes refused by validation",
                        extra={"fields": {"rule": rule, "rejected": summary.rejected}})
    return publish
