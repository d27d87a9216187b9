"""Demand response events: create (choose participants), read, and measure against a baseline.

Participants: opted-in customers of the target segments (and region). Measurement
uses baseline.measure ("10 of 10" with additive same-day adjustment by default) on
the participants' hourly usage, per UTC hour of the event, or on request a control-group baseline
(dr_control_measure.py); days of a participant's
other events are never its baseline days; participants who opted out are not measured.
Dispatch, cancellation, opt-in/out and settlement: dr_lifecycle.py.
"""

import datetime as dt

import numpy as np

from customer_svc import dr_control_measure
from customer_svc.baseline import measure
from customer_svc.usage_store import load_usage
from meters.audit import Change
from meters.customer.v1 import demand_response_event_pb2 as dpb, segment_pb2 as spb
from meters.errors import FieldViolation, failed_precondition, invalid_argument, not_found
from meters.timestamps import to_proto

COLUMNS = """id, event_type, start_time, end_time, target_reduction_mw, target_segments, region, customers_targeted,
  customers_participated, baseline_mw, actual_mw, actual_reduction_mw, reading_coverage, measured_at, cancelled, created_at,
  dispatched_at, cancelled_at, settled_at, credit_aud_per_kwh, total_credit_aud, customers_credited,
  (SELECT count(*) FROM customers.demand_response_participants p
   WHERE p.event_id = demand_response_events.id AND p.opted_out_at IS NOT NULL), baseline_method"""


def status_of(cancelled: bool, settled, measured, dispatched, start, end, now) -> str:
    """Where an event stands (DemandResponseEventStatus without its prefix), from its timestamps."""
    if cancelled:
        return "CANCELLED"
    if settled:
        return "SETTLED"
    if measured:
        return "MEASURED"
    if now < start:
        return "DISPATCHED" if dispatched else "SCHEDULED"
    return "ACTIVE" if now < end else "COMPLETED"

def _message(row) -> dpb.DemandResponseEvent:
    (eid, etype, start, end, target, segs, region, targeted, participated, base, actual, reduction, coverage,
     measured, cancelled, created, dispatched, cancelled_at, settled, rate, total_credit, credited, opted_out,
     method) = row
    status = status_of(cancelled, settled, measured, dispatched, start, end, dt.datetime.now(dt.timezone.utc))
    event = dpb.DemandResponseEvent(
        name=f"demandResponseEvents/{eid}",
        event_type=dpb.DemandResponseEventType.Value("DEMAND_RESPONSE_EVENT_TYPE_" + etype.upper()),
        start_time=to_proto(start), end_time=to_proto(end), target_reduction_mw=target,
        target_segments=[spb.Segment.Value("SEGMENT_" + s.upper()) for s in segs], region=region,
        customers_targeted=targeted, customers_participated=participated,
        status=dpb.DemandResponseEventStatus.Value("DEMAND_RESPONSE_EVENT_STATUS_" + status), created_at=to_proto(created),
        customers_opted_out=opted_out)
    if dispatched:
        event.dispatch_time.CopyFrom(to_proto(dispatched))
    if cancelled_at:
        event.cancel_time.CopyFrom(to_proto(cancelled_at))
    if settled:
        event.settlement.CopyFrom(dpb.DemandResponseSettlement(
            credit_aud_per_kwh=rate, total_credit_aud=total_credit, customers_credited=credited,
            settle_time=to_proto(settled)))
    if measured:
        event.measurement.CopyFrom(dpb.DemandResponseMeasurement(
            baseline_demand_mw=base, actual_demand_mw=actual, reduction_mw=reduction,
            reduction_percent=100 * reduction / base if base else 0.0, target_met=reduction >= target,
            reading_coverage=coverage, measured_at=to_proto(measured), baseline_method=method or ""))
    return event


async def create(pool, e: dpb.DemandResponseEvent, request_id: str, audit: Change) -> dpb.DemandResponseEvent:
    bad = []
    if not e.event_type:
        bad.append(FieldViolation("demand_response_event.event_type", "required"))
    if not e.HasField("start_time") or not e.HasField("end_time") or e.end_time.ToSeconds() <= e.start_time.ToSeconds():
        bad.append(FieldViolation("demand_response_event.end_time", "start_time and end_time required, end after start"))
    if e.target_reduction_mw < 0:
        bad.append(FieldViolation("demand_response_event.target_reduction_mw", "must be >= 0"))
    if bad:
        raise invalid_argument("invalid demand response event", *bad)
    etype = dpb.DemandResponseEventType.Name(e.event_type).removeprefix("DEMAND_RESPONSE_EVENT_TYPE_").lower()
    segs = [spb.Segment.Name(s).removeprefix("SEGMENT_").lower() for s in e.target_segments]
    async with pool.connection() as conn, conn.transaction():
        if request_id:
            cur = await conn.execute(f"SELECT {COLUMNS} FROM customers.demand_response_events WHERE request_id = %s",
                                     [request_id])
            row = await cur.fetchone()
            if row:  # a retry of a request already done: nothing changes, the attempt is recorded
                await audit.record(conn, resource=f"demandResponseEvents/{row[0]}", action="create_replayed")
                return _message(row)
        cur = await conn.execute(
            """INSERT INTO customers.demand_response_events (request_id, event_type, start_time, end_time,
                 target_reduction_mw, target_segments, region) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            [request_id or None, etype, e.start_time.ToDatetime(dt.timezone.utc), e.end_time.ToDatetime(dt.timezone.utc),
             e.target_reduction_mw, segs, e.region])
        eid = (await cur.fetchone())[0]
        cur = await conn.execute(
            """INSERT INTO customers.demand_response_participants (event_id, customer_id)
               SELECT %s, id FROM customers.customers WHERE demand_response_opted_in
                 AND (cardinality(%s::text[]) = 0 OR segment_id = ANY(%s::text[])) AND (%s = '' OR region = %s)""",
            [eid, segs, segs, e.region, e.region])
        await conn.execute("UPDATE customers.demand_response_events SET customers_targeted = %s WHERE id = %s",
                           [cur.rowcount, eid])
        await audit.record(conn, resource=f"demandResponseEvents/{eid}", after={
            "event_type": etype, "start_time": e.start_time.ToJsonString(), "end_time": e.end_time.ToJsonString(),
            "target_reduction_mw": e.target_reduction_mw, "target_segments": segs, "region": e.region,
            "customers_targeted": cur.rowcount})
        cur = await conn.execute(f"SELECT {COLUMNS} FROM customers.demand_response_events WHERE id = %s", [eid])
        return _message(await cur.fetchone())


async def get(pool, eid: int) -> dpb.DemandResponseEvent:
    async with pool.connection() as conn:
        cur = await conn.execute(f"SELECT {COLUMNS} FROM customers.demand_response_events WHERE id = %s", [eid])
        row = await cur.fetchone()
    if row is None:
        raise not_found("demand_response_event", f"demandResponseEvents/{eid}")
    return _message(row)


# Status is derived (see _message); as SQL, against the database clock.
_OPEN = "NOT cancelled AND settled_at IS NULL AND measured_at IS NULL"
STATUS_SQL = {
    "CANCELLED": "cancelled",
    "SETTLED": "NOT cancelled AND settled_at IS NOT NULL",
    "MEASURED": "NOT cancelled AND settled_at IS NULL AND measured_at IS NOT NULL",
    "SCHEDULED": f"{_OPEN} AND dispatched_at IS NULL AND now() < start_time",
    "DISPATCHED": f"{_OPEN} AND dispatched_at IS NOT NULL AND now() < start_time",
    "ACTIVE": f"{_OPEN} AND start_time <= now() AND now() < end_time",
    "COMPLETED": f"{_OPEN} AND end_time <= now()",
}


async def list_events(pool, after: tuple | None, limit: int, status: int = 0, event_type: int = 0,
                      start_from: dt.datetime | None = None, start_before: dt.datetime | None = None
                      ) -> list[dpb.DemandResponseEvent]:
    """Latest start first; `after` is the (start_time, id) of the previous page's last event."""
    where, params = ["TRUE"], []
    if after is not None:
        where.append("(start_time, id) < (to_timestamp(%s), %s)")
        params += list(after)
    if status:
        where.append(STATUS_SQL[dpb.DemandResponseEventStatus.Name(status).removeprefix("DEMAND_RESPONSE_EVENT_STATUS_")])
    if event_type:
        where.append("event_type = %s")
        params.append(dpb.DemandResponseEventType.Name(event_type).removeprefix("DEMAND_RESPONSE_EVENT_TYPE_").lower())
    if start_from is not None:
        where.append("start_time >= %s")
        params.append(start_from)
    if start_before is not None:
        where.append("start_time < %s")
        params.append(start_before)
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT {COLUMNS} FROM customers.demand_response_events WHERE {' AND '.join(where)}"
            " ORDER BY start_time DESC, id DESC LIMIT %s", [*params, limit])
        return [_message(r) for r in await cur.fetchall()]


async def measure_event(pool, eid: int, baseline_days: int, audit: Change,
                        control_group: bool = False) -> dpb.DemandResponseEvent:
    event = await get(pool, eid)
    _measurable(event)
    start, end = event.start_time.ToSeconds(), event.end_time.ToSeconds()
    day0 = start // 86400 * 86400 - (3 * baseline_days) * 86400  # enough history for Y eligible days
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT p.customer_id, array_agg(m.meter_id) FROM customers.demand_response_participants p
               JOIN customers.customer_meters m USING (customer_id) WHERE p.event_id = %s AND p.opted_out_at IS NULL
               GROUP BY p.customer_id""", [eid])
        parts = await cur.fetchall()
        # Days of the participants' other (not cancelled) events: never baseline days.
        cur = await conn.execute(
            """SELECT p.customer_id, array_agg(DISTINCT ((extract(epoch FROM e.start_time)::bigint - %s) / 86400))
               FROM customers.demand_response_participants p
               JOIN customers.demand_response_events e ON e.id = p.event_id
               WHERE p.customer_id IN (SELECT customer_id FROM customers.demand_response_participants WHERE event_id = %s)
                 AND e.id <> %s AND NOT e.cancelled AND e.start_time >= to_timestamp(%s) AND e.start_time < to_timestamp(%s)
               GROUP BY p.customer_id""", [day0, eid, eid, day0, start])
        other_event_days = dict(await cur.fetchall())
        days = int((end + 86400 - day0) // 86400)  # whole days from day0 through the event's
        usage = await load_usage(conn, day0, day0 + days * 86400)
    event_day = int((start - day0) // 86400)
    hours = np.arange((start - day0) % 86400 // 3600, (start - day0) % 86400 // 3600 + max(1, (end - start) // 3600))
    histories, oks = [], []
    weekday = lambda d: dt.datetime.fromtimestamp(day0 + d * 86400, dt.timezone.utc).weekday() < 5  # noqa: E731
    same_type = np.array([weekday(d) == weekday(event_day) for d in range(days)])
    for cid, meters in parts:
        sel = np.isin(usage.meter_ids, meters)
        d = (usage.hour_start_unix_s[sel] - day0) // 86400
        hr = (usage.hour_start_unix_s[sel] - day0) % 86400 // 3600
        h2 = np.zeros((days, 24))
        np.add.at(h2, (d, hr), usage.kwh[sel])
        seen = np.zeros((days, 24), dtype=bool)
        seen[d, hr] = True
        h = np.where(seen, h2, np.nan)
        histories.append(h)
        ok = same_type & seen.any(axis=1)
        ok[[d for d in other_event_days.get(cid, []) if 0 <= d < days]] = False
        oks.append(ok)
    result = measure(histories, oks, event_day, hours, baseline_days)
    how = f"high {baseline_days} of {baseline_days}, additive same-day adjustment"
    if control_group:
        async with pool.connection() as conn:
            result, how = await dr_control_measure.measure(conn, event, eid, [m for _c, m in parts], result)
    base_mw, actual_mw = result.baseline_kw / 1000, result.actual_kw / 1000
    per_participant = [(cid, *(r or (None, None))) for (cid, _meters), r in zip(parts, result.per_participant)]
    async with pool.connection() as conn, conn.transaction():
        _measurable(await locked(conn, eid))  # nothing settled or cancelled it meanwhile
        async with conn.cursor() as cur:
            # kWh over the measured event hours: the mean kW reduction times their number.
            await cur.executemany(
                # Typed: a participant without readings binds NULLs, whose type PostgreSQL cannot infer.
                """UPDATE customers.demand_response_participants SET baseline_kw = %s::float8, actual_kw = %s::float8,
                     reduction_kw = %s::float8 - %s::float8, reduction_kwh = (%s::float8 - %s::float8) * %s
                   WHERE event_id = %s AND customer_id = %s""",
                [(b, a, b, a, b, a, len(hours), eid, cid) for cid, b, a in per_participant])
        await conn.execute(
            """UPDATE customers.demand_response_events SET baseline_mw = %s, actual_mw = %s, actual_reduction_mw = %s,
                 customers_participated = %s, reading_coverage = %s, baseline_method = %s, measured_at = now()
               WHERE id = %s""",
            [base_mw, actual_mw, base_mw - actual_mw, result.participants_reduced, result.coverage, how, eid])
        await audit.record(conn, before=_measured(event), after={
            "baseline_mw": base_mw, "actual_mw": actual_mw, "customers_participated": result.participants_reduced,
            "reading_coverage": result.coverage, "baseline_days": baseline_days, "baseline_method": how})
    return await get(pool, eid)


async def locked(conn, eid: int) -> dpb.DemandResponseEvent:
    """The event, its row locked FOR UPDATE in `conn`'s transaction: a transition checks and changes it
    with no other transition in between."""
    cur = await conn.execute(f"SELECT {COLUMNS} FROM customers.demand_response_events WHERE id = %s FOR UPDATE", [eid])
    row = await cur.fetchone()
    if row is None:
        raise not_found("demand_response_event", f"demandResponseEvents/{eid}")
    return _message(row)


def _measurable(event: dpb.DemandResponseEvent) -> None:
    refused = {dpb.DEMAND_RESPONSE_EVENT_STATUS_CANCELLED: ("a cancelled event is not measured", "EVENT_CANCELLED"),
               dpb.DEMAND_RESPONSE_EVENT_STATUS_SETTLED: ("a settled event is not measured again: its credits are paid",
                                                          "EVENT_SETTLED")}.get(event.status)
    if refused:
        raise failed_precondition(f"{event.name}: {refused[0]}", refused[1], name=event.name)
    if event.end_time.ToSeconds() > dt.datetime.now(dt.timezone.utc).timestamp():
        raise failed_precondition(f"{event.name}: the event has not ended", "EVENT_NOT_ENDED", name=event.name)


def _measured(event: dpb.DemandResponseEvent) -> dict | None:
    """What a measurement replaces: the previous one, if the event was measured before."""
    if not event.HasField("measurement"):
        return None
    m = event.measurement
    return {"baseline_mw": m.baseline_demand_mw, "actual_mw": m.actual_demand_mw,
            "measured_at": m.measured_at.ToJsonString()}
