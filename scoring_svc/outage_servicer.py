"""OutageService: outages as the detector stored them (scoring_svc/outage_stream.py), planned work, feeders,
the monthly reliability report (scoring_svc/reliability_rpc.py), theft suspects (scoring_svc/theft_rpc.py)."""

import datetime as dt

from meters.audit import call as audited
from meters.change_signal import ChangeSignal
from meters.errors import FieldViolation, invalid_argument, not_found
from meters.names import parse_id
from meters.paging import decode_token, encode_token, page_size
from meters.scoring.v1 import outage_pb2, outage_service_pb2 as pb, outage_service_pb2_grpc
from meters.timestamps import from_us, to_proto, to_us
from scoring_svc.outage_store import OutageStore
from scoring_svc.reliability_rpc import ReliabilityReports
from scoring_svc.theft_rpc import TheftSuspects

LEVELS = {outage_pb2.OUTAGE_LEVEL_METER: "meter", outage_pb2.OUTAGE_LEVEL_TRANSFORMER: "transformer",
          outage_pb2.OUTAGE_LEVEL_FEEDER: "feeder"}
LEVEL_OF = {name: value for value, name in LEVELS.items()}
WATCH_BATCH = 500
MAX_DESCRIPTION = 500


def outage_message(row: dict, now: dt.datetime | None = None, meters=()) -> outage_pb2.Outage:
    end = row["restored_at"] or now or dt.datetime.now(dt.timezone.utc)
    minutes = max(0.0, (end - row["started_at"]).total_seconds() / 60.0)
    return outage_pb2.Outage(
        name=f"outages/{row['outage_id']}", outage_id=row["outage_id"], level=LEVEL_OF[row["level"]],
        asset_id=row["asset_id"], region=row["region"] or "", substation_id=row["substation_id"] or 0,
        feeder_id=row["feeder_id"] or 0, transformer_id=row["transformer_id"] or 0,
        state=outage_pb2.OUTAGE_STATE_RESTORED if row["restored_at"] else outage_pb2.OUTAGE_STATE_OPEN,
        started_at=to_proto(row["started_at"]), restored_at=to_proto(row["restored_at"]),
        customers_affected=row["customers_affected"], customer_minutes=row["customers_affected"] * minutes,
        planned=row["planned"], momentary=row["momentary"], cause=row["cause"], detected_from=row["detected_from"],
        restored_from=row["restored_from"] or "", opened_at=to_proto(row["opened_at"]),
        closed_at=to_proto(row["closed_at"]), affected_meter_ids=list(meters))


def planned_work_message(row: dict) -> outage_pb2.PlannedWork:
    return outage_pb2.PlannedWork(
        name=f"plannedWork/{row['id']}", planned_work_id=row["id"], level=LEVEL_OF[row["level"]],
        asset_id=row["asset_id"], start_time=to_proto(row["start_time"]), end_time=to_proto(row["end_time"]),
        description=row["description"], create_time=to_proto(row["created_at"]))


def _time(msg, field: str) -> dt.datetime | None:
    return getattr(msg, field).ToDatetime(dt.timezone.utc) if msg.HasField(field) else None


def _filter(request) -> tuple[list[str], list]:
    where, params = [], []
    if request.state == outage_pb2.OUTAGE_STATE_OPEN:
        where.append("restored_at IS NULL")
    elif request.state == outage_pb2.OUTAGE_STATE_RESTORED:
        where.append("restored_at IS NOT NULL")
    if request.level:
        if request.level not in LEVELS:
            raise invalid_argument("unknown level", FieldViolation("level", f"{request.level} is not an OutageLevel"))
        where.append("level = %s")
        params.append(LEVELS[request.level])
    if request.feeder_id:
        where.append("feeder_id = %s")
        params.append(request.feeder_id)
    for field, op in (("start_time", ">="), ("end_time", "<")):
        if request.HasField(field):
            where.append(f"started_at {op} %s")
            params.append(_time(request, field))
    return where, params


def _validated_work(w: outage_pb2.PlannedWork) -> tuple[str, int, dt.datetime, dt.datetime, str]:
    bad = []
    if w.level not in LEVELS:
        bad.append(FieldViolation("planned_work.level", "required: METER, TRANSFORMER or FEEDER"))
    if w.asset_id <= 0:
        bad.append(FieldViolation("planned_work.asset_id", "must be positive"))
    for field in ("start_time", "end_time"):
        if not w.HasField(field):
            bad.append(FieldViolation(f"planned_work.{field}", "required"))
    if not bad and w.end_time.ToDatetime() <= w.start_time.ToDatetime():
        bad.append(FieldViolation("planned_work.end_time", "must be after start_time"))
    if len(w.description) > MAX_DESCRIPTION:
        bad.append(FieldViolation("planned_work.description", f"at most {MAX_DESCRIPTION} characters"))
    if bad:
        raise invalid_argument("invalid planned work", *bad)
    return LEVELS[w.level], w.asset_id, _time(w, "start_time"), _time(w, "end_time"), w.description


class OutageServicer(outage_service_pb2_grpc.OutageServiceServicer):
    def __init__(self, store: OutageStore, signal: ChangeSignal, watch_poll_s: float = 5.0):
        self._store = store
        self._signal = signal
        self._watch_poll_s = watch_poll_s
        self._reports = ReliabilityReports(store.pool)
        self._suspects = TheftSuspects(store.pool)

    async def ListOutages(self, request, context):
        limit = page_size(request.page_size, 100, 1000)
        after = decode_token(request.page_token, 2)
        where, params = _filter(request)
        rows = await self._store.list_outages(where, params, (from_us(after[0]), after[1]) if after else None,
                                              limit + 1)
        token = encode_token([to_us(rows[limit - 1]["started_at"]), rows[limit - 1]["outage_id"]]) \
            if len(rows) > limit else ""
        return pb.ListOutagesResponse(outages=[outage_message(r) for r in rows[:limit]], next_page_token=token)

    async def GetOutage(self, request, context):
        found = await self._store.get(parse_id(request.name, "outages"))
        if found is None:
            raise not_found("outage", request.name)
        row, meters = found
        return pb.GetOutageResponse(outage=outage_message(row, meters=meters.tolist()))

    async def WatchOutages(self, request, context):
        if request.min_level and request.min_level not in LEVELS:
            raise invalid_argument("unknown level", FieldViolation("min_level", "not an OutageLevel"))
        cursor = await self._store.last_sequence()
        wanted = lambda row: LEVEL_OF[row["level"]] >= request.min_level  # noqa: E731
        for row in await self._store.list_outages(["restored_at IS NULL", "sequence <= %s"], [cursor], None, 10_000):
            if wanted(row):
                yield pb.WatchOutagesResponse(change=pb.OUTAGE_CHANGE_EXISTING, outage=outage_message(row))
        while True:
            rows = await self._store.changes_after(cursor, WATCH_BATCH)
            for row in rows:
                if wanted(row):
                    change = pb.OUTAGE_CHANGE_RESTORED if row["restored_at"] else pb.OUTAGE_CHANGE_OPENED
                    yield pb.WatchOutagesResponse(change=change, outage=outage_message(row))
            if rows:
                cursor = rows[-1]["sequence"]
            if len(rows) < WATCH_BATCH:
                await self._signal.wait(self._watch_poll_s)

    async def CreatePlannedWork(self, request, context):
        async with audited(self._store.pool, "plannedWork", "create") as change:
            row = await self._store.create_planned_work(*_validated_work(request.planned_work), change)
        return pb.CreatePlannedWorkResponse(planned_work=planned_work_message(row))

    async def ListPlannedWork(self, request, context):
        limit = page_size(request.page_size, 100, 1000)
        after = decode_token(request.page_token, 1)
        rows = await self._store.list_planned_work(_time(request, "start_time"), after[0] if after else 0, limit + 1)
        token = encode_token([rows[limit - 1]["id"]]) if len(rows) > limit else ""
        return pb.ListPlannedWorkResponse(planned_work=[planned_work_message(r) for r in rows[:limit]],
                                          next_page_token=token)

    async def BatchCreateFeeders(self, request, context):
        async with audited(self._store.pool, "feeders", "batch_create") as change:
            bad = [FieldViolation(f"feeders[{i}]", "feeder_id and substation_id must be positive")
                   for i, f in enumerate(request.feeders) if f.feeder_id <= 0 or f.substation_id <= 0]
            if bad:
                raise invalid_argument("invalid feeders", *bad[:100])
            rows = [(f.feeder_id, f.substation_id, f.display_name or f"F-{f.feeder_id:06d}") for f in request.feeders]
            created = await self._store.create_feeders(rows, change)
        return pb.BatchCreateFeedersResponse(created=created, already_existed=len(rows) - created)

    async def close(self) -> None:
        """Stop the report and suspects worker processes (the server's on_stop)."""
        await self._reports.close()
        await self._suspects.close()

    async def GetReliabilityReport(self, request, context):
        return pb.GetReliabilityReportResponse(report=await self._reports.report(request.month, request.region))

    async def ListTheftSuspects(self, request, context):
        return await self._suspects.list(request)
