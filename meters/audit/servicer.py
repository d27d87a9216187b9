"""AuditService: the audit trail over gRPC (and REST through the gateway), for platform_admin."""

import datetime as dt

from google.protobuf import struct_pb2
from psycopg_pool import AsyncConnectionPool

from meters.audit.query import EventFilter, list_events
from meters.audit.v1 import audit_event_pb2, audit_service_pb2 as pb, audit_service_pb2_grpc
from meters.paging import decode_token, encode_token, page_size
from meters.timestamps import from_us, to_proto, to_us


def _struct(value: dict | None) -> struct_pb2.Struct | None:
    if value is None:
        return None
    out = struct_pb2.Struct()
    out.update(value)
    return out


def event_message(row: dict) -> audit_event_pb2.AuditEvent:
    return audit_event_pb2.AuditEvent(
        name=f"auditEvents/{row['id']}", occurred_at=to_proto(row["occurred_at"]), actor=row["actor"],
        actor_via=row["actor_via"], actor_roles=row["actor_roles"], peer=row["peer"], service=row["service"],
        method=row["method"], resource=row["resource"], action=row["action"], before=_struct(row["before"]),
        after=_struct(row["after"]), outcome=row["outcome"], error_message=row["error_message"],
        request_id=row["request_id"])


def _time(request, field: str) -> dt.datetime | None:
    return getattr(request, field).ToDatetime(dt.timezone.utc) if request.HasField(field) else None


class AuditServicer(audit_service_pb2_grpc.AuditServiceServicer):
    def __init__(self, pool: AsyncConnectionPool):
        self._pool = pool

    async def ListAuditEvents(self, request, context):
        limit = page_size(request.page_size, 100, 1000)
        flt = EventFilter(request.actor, request.method, request.resource, request.service, request.outcome,
                          _time(request, "start_time"), _time(request, "end_time"))
        after = decode_token(request.page_token, 2)
        rows = await list_events(self._pool, flt, (from_us(after[0]), after[1]) if after else None, limit + 1)
        last = rows[limit - 1] if len(rows) > limit else None
        token = encode_token([to_us(last["occurred_at"]), last["id"]]) if last else ""
        return pb.ListAuditEventsResponse(audit_events=[event_message(r) for r in rows[:limit]],
                                          next_page_token=token)


def registration(pool: AsyncConnectionPool):
    """The meters.server.Registration of AuditService, for the service that hosts it."""
    from meters.server import Registration

    return Registration(audit_service_pb2_grpc.add_AuditServiceServicer_to_server, AuditServicer(pool),
                        pb.DESCRIPTOR.services_by_name["AuditService"].full_name)
