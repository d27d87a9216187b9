"""OutageService.ListTheftSuspects: theft suspects ranked from what the platform stored, off the event loop.

The request is validated (window of MIN_DAYS-MAX_DAYS whole days ending by now, scope that exists,
not more than MAX_METER_HOURS meter-hours), the window's columns are read in one read-only snapshot
(scoring_svc/revenue_protection/stored.py) and the arrays are built and ranked (suspects.py) in a
worker process (scoring_svc/worker_process.py). At most MAX_CONCURRENT requests are read and waiting
at once. Meter ids go into the response only: the log line carries counts and seconds.
"""

import asyncio
import logging
import time

from meters.db import allow_long_statements
from meters.errors import FieldViolation, failed_precondition, invalid_argument, not_found
from meters.paging import page_size
from meters.regions import REGIONS
from meters.scoring.v1 import outage_service_pb2 as pb, theft_suspect_pb2
from meters.timestamps import from_unix, to_proto
from scoring_svc.revenue_protection import stored
from scoring_svc.revenue_protection.energy_balance import DAY_S
from scoring_svc.revenue_protection.suspects import REVERSE_MIN_KWH, rank_suspects
from scoring_svc.worker_process import WorkerProcess

log = logging.getLogger(__name__)
MIN_DAYS, MAX_DAYS = 28, 366  # a week of loss-model fit and a week each side of a start; a year
MAX_METER_HOURS = 5_000_000  # ~570 meters x a year, 2,300 x 90 days: ~50 s and ~40 bytes an interval read (bench/theft_suspects.py)
FUTURE_SLACK_S = 3600
MAX_CONCURRENT = 2
# A year of a feeder's readings is one aggregate over tens of millions of rows: longer than the pool's 30 s.
READ_STATEMENT_S = 300.0
READ_WORK_MEM = "64MB"


def _time(msg, name: str) -> int | None:
    return int(getattr(msg, name).ToSeconds()) if msg.HasField(name) else None


def validated(request, now_unix_s: float) -> tuple[stored.Window, stored.Scope, int]:
    bad = []
    start, end = _time(request, "start_time"), _time(request, "end_time")
    for name, value in (("start_time", start), ("end_time", end)):
        if value is None:
            bad.append(FieldViolation(name, "required"))
    if start is not None and end is not None:
        if end <= start:
            bad.append(FieldViolation("end_time", "must be after start_time"))
        elif (end - start // 3600 * 3600) // DAY_S < MIN_DAYS:
            bad.append(FieldViolation("end_time", f"the window must hold at least {MIN_DAYS} whole days"))
        elif (end - start) > MAX_DAYS * DAY_S:
            bad.append(FieldViolation("end_time", f"the window must be at most {MAX_DAYS} days"))
    if end is not None and end > now_unix_s + FUTURE_SLACK_S:
        bad.append(FieldViolation("end_time", "is in the future: the balance needs hours that have happened"))
    for name in ("transformer_id", "feeder_id"):
        if getattr(request, name) < 0:
            bad.append(FieldViolation(name, "must not be negative"))
    if request.region and request.region not in REGIONS:
        bad.append(FieldViolation("region", f"{request.region!r} is not one of {', '.join(REGIONS)}"))
    limit = page_size(request.page_size, 100, 1000)
    if bad:
        raise invalid_argument("invalid theft suspects request", *bad)
    first = start // 3600 * 3600
    return (stored.Window(first, int((end - first) // DAY_S)),
            stored.Scope(request.transformer_id, request.feeder_id, request.region), limit)


def _ts(unix_s: int):
    return to_proto(from_unix(unix_s))


def ranked_bytes(data: stored.StoredWindow, limit: int) -> bytes:
    """The serialised response (runs in the worker process)."""
    built = stored.build(data)
    if built is None:
        return b""
    r = rank_suspects(built.inputs)
    tx = built.inputs.transformer_row
    w = data.window
    suspects = [theft_suspect_pb2.TheftSuspect(
        rank=i + 1, meter_id=int(s.meter_id), transformer_id=int(built.transformer_ids[tx[int(s.row)]]),
        score=float(s.score), balance_z=float(s.z),
        suspected_start_time=_ts(w.start_unix_s + int(s.start_day) * DAY_S),
        unmetered_share=float(s.unmetered_share), tamper_event=bool(s.tamper_evidence),
        flat_after_tamper=bool(s.flat_after_tamper), reverse_flow_kwh=float(s.reverse_flow_kwh),
        reverse_flow=bool(s.reverse_flow_kwh >= REVERSE_MIN_KWH))
        for i, s in enumerate(r.head(limit).itertuples(index=False))]
    return pb.ListTheftSuspectsResponse(
        suspects=suspects, start_time=_ts(w.start_unix_s), end_time=_ts(w.end_unix_s),
        meters_ranked=len(r), transformers_balanced=len(built.transformer_ids),
        transformers_without_energy=built.without_energy, solar_registration_known=built.solar_known,
    ).SerializeToString()


class TheftSuspects:
    def __init__(self, pool):
        self._pool = pool
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._worker = WorkerProcess("theft suspects", "SUSPECTS_WORKER_DIED")

    async def _read(self, window: stored.Window, scope: stored.Scope) -> stored.StoredWindow:
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            await allow_long_statements(conn, READ_STATEMENT_S)
            # the hourly aggregate spilled to disk in 21 batches at the default 4 MB
            await cur.execute("SELECT set_config('work_mem', %s, true)", [READ_WORK_MEM])
            missing = await stored.missing_tables(cur, stored.TABLES)
            if missing:
                raise failed_precondition(f"tables not in the database: {', '.join(missing)}", "TABLES_MISSING")
            for name, table in (("transformer_id", "grid.transformers"), ("feeder_id", "grid.feeders")):
                value = getattr(scope, name)
                if not value:
                    continue
                await cur.execute(f"SELECT 1 FROM {table} WHERE id = %s", [value])
                if await cur.fetchone() is None:
                    raise not_found(name.removesuffix("_id"), str(value))
            meters = await stored.count_meters(cur, scope)
            if meters == 0:
                raise not_found("meters connected in", _scope_name(scope))
            if meters * window.hours > MAX_METER_HOURS:
                raise invalid_argument(
                    "window and scope too large", FieldViolation(
                        "end_time", f"{meters:,} meters x {window.days} days = {meters * window.hours:,} meter-hours,"
                        f" over {MAX_METER_HOURS:,}: shorten the window or narrow it (transformer_id, feeder_id,"
                        " region)"))
            return await stored.read_window(cur, scope, window)

    async def list(self, request, now_unix_s: float | None = None) -> pb.ListTheftSuspectsResponse:
        window, scope, limit = validated(request, time.time() if now_unix_s is None else now_unix_s)
        async with self._slots:
            t0 = time.perf_counter()
            data = await self._read(window, scope)
            t1 = time.perf_counter()
            payload = await self._worker.run(ranked_bytes, data, limit)
        if not payload:
            raise failed_precondition("no transformer in scope has telemetry energy in the window", "NO_ENERGY",
                                      scope=_scope_name(scope))
        out = pb.ListTheftSuspectsResponse.FromString(payload)
        log.info("theft suspects ranked", extra={"fields": {
            "meters": out.meters_ranked, "transformers": out.transformers_balanced, "days": window.days,
            "read_s": round(t1 - t0, 3), "rank_s": round(time.perf_counter() - t1, 3)}})
        return out

    async def close(self) -> None:
        await self._worker.close()


def _scope_name(scope: stored.Scope) -> str:
    parts = [f"{k} {v}" for k, v in (("transformer", scope.transformer_id), ("feeder", scope.feeder_id),
                                     ("region", scope.region)) if v]
    return ", ".join(parts) or "network"

