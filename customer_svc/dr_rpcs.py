"""CustomerService's demand response lifecycle RPCs (a part of CustomerServicer): translate and delegate
to dr_lifecycle; every state change is audited (meters.audit.call)."""

from customer_svc import dr_lifecycle
from meters.audit import call as audited
from meters.customer.v1 import customer_service_pb2 as pb
from meters.errors import FieldViolation, invalid_argument
from meters.names import parse_id
from meters.paging import decode_token, encode_token, page_size

EVENTS = "demandResponseEvents"


def customer_hash(name: str, field: str) -> str:
    h = name.removeprefix("customers/")
    if not name.startswith("customers/") or not h or len(h) > 64:
        raise invalid_argument(f"{field} must look like customers/<hash>", FieldViolation(field, "expected customers/<hash>"))
    return h


class DemandResponseRpcs:
    """Needs self._store (CustomerStore) and self._customer_message(customer_hash)."""

    async def DispatchDemandResponseEvent(self, request, context):
        async with audited(self._store.pool, request.name, "dispatch") as change:
            event = await dr_lifecycle.dispatch(self._store.pool, parse_id(request.name, EVENTS), change)
        return pb.DispatchDemandResponseEventResponse(demand_response_event=event)

    async def CancelDemandResponseEvent(self, request, context):
        async with audited(self._store.pool, request.name, "cancel") as change:
            event = await dr_lifecycle.cancel(self._store.pool, parse_id(request.name, EVENTS), request.reason[:500],
                                              change)
        return pb.CancelDemandResponseEventResponse(demand_response_event=event)

    async def SettleDemandResponseEvent(self, request, context):
        async with audited(self._store.pool, request.name, "settle") as change:
            event = await dr_lifecycle.settle(self._store.pool, parse_id(request.name, EVENTS), change)
        return pb.SettleDemandResponseEventResponse(demand_response_event=event)

    async def OptInDemandResponseEvent(self, request, context):
        async with audited(self._store.pool, request.name, "opt_in") as change:
            eid, h = parse_id(request.name, EVENTS), customer_hash(request.customer, "customer")
            participant = await dr_lifecycle.opt_in(self._store.pool, eid, h, change)
        return pb.OptInDemandResponseEventResponse(participant=participant)

    async def OptOutDemandResponseEvent(self, request, context):
        async with audited(self._store.pool, request.name, "opt_out") as change:
            eid, h = parse_id(request.name, EVENTS), customer_hash(request.customer, "customer")
            participant = await dr_lifecycle.opt_out(self._store.pool, eid, h, change)
        return pb.OptOutDemandResponseEventResponse(participant=participant)

    async def ListDemandResponseParticipants(self, request, context):
        eid = parse_id(request.parent, EVENTS, "parent")
        limit = page_size(request.page_size, 100, 1000)
        after = decode_token(request.page_token, 1)
        rows = await dr_lifecycle.list_participants(self._store.pool, eid, after[0] if after else None, limit + 1)
        token = encode_token([rows[limit - 1][0]]) if len(rows) > limit else ""
        return pb.ListDemandResponseParticipantsResponse(participants=[p for _, p in rows[:limit]],
                                                         next_page_token=token)

    async def SetDemandResponseEnrolment(self, request, context):
        async with audited(self._store.pool, request.name, "enrol" if request.enrolled else "unenrol") as change:
            h = customer_hash(request.name, "name")
            await dr_lifecycle.set_enrolment(self._store.pool, h, request.enrolled, change)
        return pb.SetDemandResponseEnrolmentResponse(customer=await self._customer_message(h))
