"""Reads of stored meter events (ListMeterEvents)."""

from psycopg_pool import AsyncConnectionPool

from ingest_svc.event_sink import MAX_TIME_MS
from meters.ingest.v1 import meter_event_pb2
from meters.timestamps import from_unix


async def list_meter_events(pool: AsyncConnectionPool, meter_id: int, start_ms: int, end_ms: int,
                            after: tuple[int, int] | None, limit: int) -> list[tuple[meter_event_pb2.MeterEvent, int]]:
    """A meter's events in [start_ms, end_ms), oldest first, after the keyset (time_ms, id); with their ids."""
    start_ms, end_ms = min(start_ms, MAX_TIME_MS), min(end_ms, MAX_TIME_MS)
    after_ms, after_id = after or (start_ms, 0)
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT event_id, event_type, (extract(epoch FROM event_time) * 1000)::bigint, detail, id
               FROM meters.meter_events
               WHERE meter_id = %s AND event_time >= %s AND event_time < %s AND (event_time, id) > (%s, %s)
               ORDER BY event_time, id LIMIT %s""",
            [meter_id, from_unix(start_ms / 1000), from_unix(end_ms / 1000), from_unix(after_ms / 1000),
             after_id, limit])
        return [(meter_event_pb2.MeterEvent(event_id=eid, meter_id=meter_id, type=kind, event_time_unix_ms=t,
                                            detail=detail), row_id)
                for eid, kind, t, detail, row_id in await cur.fetchall()]
