"""The demand response lifecycle after creation: dispatch, cancel, opt in and out, settle, and the
program enrolment of a customer.

    SCHEDULED --dispatch--> DISPATCHED --(start)--> ACTIVE --(end)--> COMPLETED --measure--> MEASURED --settle--> SETTLED
        \\________________________\\_____________________\\___cancel___/____________________/
                                                                          (not once measured)

Each transition locks the event's row (demand_response.locked), checks where the event stands against
the database's clock and its own state, changes it and records its audit event in one transaction; a
refused transition raises FAILED_PRECONDITION before anything is written. Dispatch locks the
participant list: opt-ins close, opt-outs stay open until the start. Settlement credits each measured
participant max(reduction_kwh, 0) x the configured AUD/kWh rate, once.
"""

from customer_svc import demand_response
from customer_svc.billing import load_tariffs
from meters.audit import Change
from meters.customer.v1 import demand_response_event_pb2 as dpb
from meters.errors import failed_precondition, not_found

S = dpb.DemandResponseEventStatus
ENDED = (S.Value("DEMAND_RESPONSE_EVENT_STATUS_COMPLETED"), S.Value("DEMAND_RESPONSE_EVENT_STATUS_MEASURED"),
         S.Value("DEMAND_RESPONSE_EVENT_STATUS_SETTLED"))
PARTICIPANT_COLUMNS = """c.customer_hash, p.opted_out_at IS NOT NULL, p.baseline_kw, p.actual_kw, p.reduction_kwh,
  p.credit_aud"""


def credit_rate_aud_per_kwh() -> float:
    """The credit per kWh of measured reduction (tariffs.yaml demand_response_credit_aud_per_kwh)."""
    return float(load_tariffs()["demand_response_credit_aud_per_kwh"])


def _refuse(event: dpb.DemandResponseEvent, why: str, reason: str):
    return failed_precondition(f"{event.name}: {why}", reason, name=event.name,
                               status=S.Name(event.status).removeprefix("DEMAND_RESPONSE_EVENT_STATUS_"))


def _not_cancelled(event: dpb.DemandResponseEvent, doing: str) -> None:
    if event.status == S.Value("DEMAND_RESPONSE_EVENT_STATUS_CANCELLED"):
        raise _refuse(event, f"the event is cancelled: no {doing}", "EVENT_CANCELLED")


async def dispatch(pool, eid: int, audit: Change) -> dpb.DemandResponseEvent:
    async with pool.connection() as conn, conn.transaction():
        event = await demand_response.locked(conn, eid)
        _not_cancelled(event, "dispatch")
        if event.HasField("dispatch_time"):
            raise _refuse(event, "already dispatched", "EVENT_ALREADY_DISPATCHED")
        if event.status in ENDED:
            raise _refuse(event, "the event has ended: too late to dispatch", "EVENT_ENDED")
        cur = await conn.execute(
            """UPDATE customers.demand_response_events SET dispatched_at = now() WHERE id = %s
               RETURNING (SELECT count(*) FROM customers.demand_response_participants
                          WHERE event_id = %s AND opted_out_at IS NULL)""", [eid, eid])
        notified = (await cur.fetchone())[0]
        await audit.record(conn, before={"status": _status(event)},
                           after={"status": "DISPATCHED", "participants_notified": notified})
    return await demand_response.get(pool, eid)


async def cancel(pool, eid: int, reason: str, audit: Change) -> dpb.DemandResponseEvent:
    async with pool.connection() as conn, conn.transaction():
        event = await demand_response.locked(conn, eid)
        _not_cancelled(event, "second cancellation")
        if event.HasField("settlement"):
            raise _refuse(event, "the event is settled: its credits are paid", "EVENT_SETTLED")
        if event.HasField("measurement"):
            raise _refuse(event, "the event is measured: it took place", "EVENT_MEASURED")
        await conn.execute("UPDATE customers.demand_response_events SET cancelled = TRUE, cancelled_at = now()"
                           " WHERE id = %s", [eid])
        await audit.record(conn, before={"status": _status(event)}, after={"status": "CANCELLED", "reason": reason})
    return await demand_response.get(pool, eid)


async def settle(pool, eid: int, audit: Change) -> dpb.DemandResponseEvent:
    rate = credit_rate_aud_per_kwh()
    async with pool.connection() as conn, conn.transaction():
        event = await demand_response.locked(conn, eid)
        _not_cancelled(event, "settlement")
        if event.HasField("settlement"):
            raise _refuse(event, "already settled: credits are paid once", "EVENT_ALREADY_SETTLED")
        if not event.HasField("measurement"):
            raise _refuse(event, "not measured yet: measure it (MeasureDemandResponseEvent) before settling",
                          "EVENT_NOT_MEASURED")
        # Measured participants only (opted-out ones and those without readings have no reduction).
        await conn.execute(
            """UPDATE customers.demand_response_participants SET credit_aud = greatest(reduction_kwh, 0) * %s
               WHERE event_id = %s AND opted_out_at IS NULL AND reduction_kwh IS NOT NULL""", [rate, eid])
        cur = await conn.execute(
            """UPDATE customers.demand_response_events e SET settled_at = now(), credit_aud_per_kwh = %s,
                 total_credit_aud = t.total, customers_credited = t.credited
               FROM (SELECT coalesce(sum(credit_aud), 0) AS total, count(*) FILTER (WHERE credit_aud > 0) AS credited
                     FROM customers.demand_response_participants WHERE event_id = %s) t
               WHERE e.id = %s RETURNING t.total, t.credited""", [rate, eid, eid])
        total, credited = await cur.fetchone()
        await audit.record(conn, before={"status": _status(event)}, after={
            "status": "SETTLED", "credit_aud_per_kwh": rate, "total_credit_aud": total, "customers_credited": credited})
    return await demand_response.get(pool, eid)


async def opt_in(pool, eid: int, customer_hash: str, audit: Change) -> dpb.DemandResponseParticipant:
    async with pool.connection() as conn, conn.transaction():
        event = await demand_response.locked(conn, eid)
        _not_cancelled(event, "opt-in")
        if event.HasField("dispatch_time") or event.status != S.Value("DEMAND_RESPONSE_EVENT_STATUS_SCHEDULED"):
            raise _refuse(event, "the participant list is locked (dispatched or started): no opt-in",
                          "PARTICIPANTS_LOCKED")
        cid, enrolled = await _customer(conn, customer_hash)
        if not enrolled:
            raise failed_precondition(f"customers/{customer_hash} is not enrolled in the demand response program"
                                      " (SetDemandResponseEnrolment)", "NOT_ENROLLED", name=event.name)
        cur = await conn.execute(
            """INSERT INTO customers.demand_response_participants AS p (event_id, customer_id) VALUES (%s, %s)
               ON CONFLICT (event_id, customer_id) DO UPDATE SET opted_out_at = NULL WHERE p.opted_out_at IS NOT NULL
               RETURNING (xmax = 0)""", [eid, cid])
        row = await cur.fetchone()
        if row is None:
            raise failed_precondition(f"customers/{customer_hash} already takes part in {event.name}",
                                      "ALREADY_PARTICIPATING", name=event.name)
        if row[0]:
            await conn.execute("UPDATE customers.demand_response_events SET customers_targeted = customers_targeted + 1"
                               " WHERE id = %s", [eid])
        await audit.record(conn, resource=f"{event.name}/participants/{customer_hash}",
                           before=None if row[0] else {"opted_out": True}, after={"opted_out": False})
        return await _participant(conn, eid, cid)


async def opt_out(pool, eid: int, customer_hash: str, audit: Change) -> dpb.DemandResponseParticipant:
    async with pool.connection() as conn, conn.transaction():
        event = await demand_response.locked(conn, eid)
        _not_cancelled(event, "opt-out")
        if event.status not in (S.Value("DEMAND_RESPONSE_EVENT_STATUS_SCHEDULED"),
                                S.Value("DEMAND_RESPONSE_EVENT_STATUS_DISPATCHED")):
            raise _refuse(event, "the event has started: opt-outs close at the start", "EVENT_STARTED")
        cid, _enrolled = await _customer(conn, customer_hash)
        cur = await conn.execute(
            """UPDATE customers.demand_response_participants SET opted_out_at = now()
               WHERE event_id = %s AND customer_id = %s AND opted_out_at IS NULL""", [eid, cid])
        if cur.rowcount == 0:
            raise failed_precondition(f"customers/{customer_hash} is not a participant of {event.name}"
                                      " (never invited, or opted out already)", "NOT_A_PARTICIPANT", name=event.name)
        await audit.record(conn, resource=f"{event.name}/participants/{customer_hash}",
                           before={"opted_out": False}, after={"opted_out": True})
        return await _participant(conn, eid, cid)


async def list_participants(pool, eid: int, after_customer_id: int | None,
                            limit: int) -> list[tuple[int, dpb.DemandResponseParticipant]]:
    """(customer id, participant) in invitation order (customer id), from after_customer_id."""
    await demand_response.get(pool, eid)  # NOT_FOUND for an unknown event
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"""SELECT p.customer_id, {PARTICIPANT_COLUMNS} FROM customers.demand_response_participants p
                JOIN customers.customers c ON c.id = p.customer_id
                WHERE p.event_id = %s AND p.customer_id > %s ORDER BY p.customer_id LIMIT %s""",
            [eid, after_customer_id or 0, limit])
        return [(r[0], _participant_message(eid, r[1:])) for r in await cur.fetchall()]


async def set_enrolment(pool, customer_hash: str, enrolled: bool, audit: Change) -> None:
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT demand_response_opted_in FROM customers.customers WHERE customer_hash = %s FOR UPDATE",
            [customer_hash])
        row = await cur.fetchone()
        if row is None:
            raise not_found("customer", f"customers/{customer_hash}")
        if row[0] != enrolled:
            await conn.execute("UPDATE customers.customers SET demand_response_opted_in = %s, updated_at = now()"
                               " WHERE customer_hash = %s", [enrolled, customer_hash])
        await audit.record(conn, resource=f"customers/{customer_hash}", action="enrol" if enrolled else "unenrol",
                           before={"demand_response_opted_in": row[0]}, after={"demand_response_opted_in": enrolled})


async def _customer(conn, customer_hash: str) -> tuple[int, bool]:
    cur = await conn.execute("SELECT id, demand_response_opted_in FROM customers.customers WHERE customer_hash = %s",
                             [customer_hash])
    row = await cur.fetchone()
    if row is None:
        raise not_found("customer", f"customers/{customer_hash}")
    return row


async def _participant(conn, eid: int, cid: int) -> dpb.DemandResponseParticipant:
    cur = await conn.execute(
        f"""SELECT {PARTICIPANT_COLUMNS} FROM customers.demand_response_participants p
            JOIN customers.customers c ON c.id = p.customer_id WHERE p.event_id = %s AND p.customer_id = %s""", [eid, cid])
    return _participant_message(eid, await cur.fetchone())


def _participant_message(eid: int, row) -> dpb.DemandResponseParticipant:
    h, opted_out, base, actual, reduction_kwh, credit = row
    return dpb.DemandResponseParticipant(
        name=f"demandResponseEvents/{eid}/participants/{h}", customer=f"customers/{h}", opted_out=opted_out,
        baseline_kw=base or 0.0, actual_kw=actual or 0.0, reduction_kwh=reduction_kwh or 0.0,
        credit_aud=credit or 0.0, measured=reduction_kwh is not None)


def _status(event: dpb.DemandResponseEvent) -> str:
    return S.Name(event.status).removeprefix("DEMAND_RESPONSE_EVENT_STATUS_")
