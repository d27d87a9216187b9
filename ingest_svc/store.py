"""PostgreSQL reads and writes of the meter registry and stored readings."""

from psycopg_pool import AsyncConnectionPool

from ingest_svc.meter_validation import MAX_UNIX_S
from ingest_svc.reading_sink import quality_method_sql
from meters.audit import Change
from meters.errors import FieldViolation, already_exists, not_found
from meters.ingest.v1 import meter_pb2, reading_pb2
from meters.security.pii import PiiKey, is_digest
from meters.timestamps import from_unix

_METER_COLUMNS = """m.id, m.meter_number, coalesce(m.customer_id, 0), coalesce(m.transformer_id, 0),
  coalesce(m.meter_type, ''), m.status, coalesce(extract(epoch FROM m.installed_at)::bigint, 0)"""


def _meter(row, reading_count: int = 0, last_time: int = 0) -> meter_pb2.Meter:
    mid, number, customer, transformer, mtype, status, installed = row
    return meter_pb2.Meter(
        name=f"meters/{mid}", meter_id=mid, meter_number=number, customer_id=customer,
        transformer_id=transformer, meter_type=mtype, status=status, installed_at_unix_s=installed,
        reading_count=reading_count, last_reading_time_unix_s=last_time,
    )


class MeterStore:
    """Meter numbers (NMIs) are stored as their keyed hashes (meters/security/pii.py), never raw."""

    def __init__(self, pool: AsyncConnectionPool, pii: PiiKey):
        self._pool = self.pool = pool
        self._pii = pii

    def number_digest(self, meter_number: str) -> str:
        return meter_number if is_digest(meter_number) else self._pii.digest(meter_number)

    async def meters_by_number(self, digests: list[str]) -> dict[str, int]:
        """Meter ids of the registered meters among keyed hashes of meter numbers."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT meter_number, id FROM meters.smart_meters WHERE meter_number = ANY(%s)", [digests])
            return dict(await cur.fetchall())

    async def create_meters(self, meters: list[meter_pb2.Meter], audit: Change) -> int:
        """Insert meters not yet registered (bulk COPY through a staging table); return how many were new.

        Idempotent on the meter id; a meter number held by another meter (registered, or earlier in the
        batch) refuses the whole batch with ALREADY_EXISTS, rather than leaving that meter out unsaid."""
        digests = [self.number_digest(m.meter_number) for m in meters]
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "CREATE TEMP TABLE new_meters (LIKE meters.smart_meters INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            async with conn.cursor().copy(
                "COPY new_meters (id, meter_number, customer_id, transformer_id, meter_type, status, installed_at)"
                " FROM STDIN"
            ) as copy:
                for m, digest in zip(meters, digests):
                    await copy.write_row((
                        m.meter_id, digest, m.customer_id or None, m.transformer_id or None,
                        m.meter_type or None, m.status or "active",
                        from_unix(m.installed_at_unix_s) if m.installed_at_unix_s else None,
                    ))
            # Held by another registered meter (smart_meters' meter_number index), or by two ids of the
            # batch (grouped: a self-join of the unindexed staging table was quadratic, 30 s at 20,000).
            cur = await conn.execute(
                "SELECT n.meter_number FROM new_meters n JOIN meters.smart_meters s"
                " ON s.meter_number = n.meter_number AND s.id <> n.id"
                " UNION SELECT meter_number FROM new_meters GROUP BY meter_number HAVING min(id) <> max(id)")
            if taken := {row[0] for row in await cur.fetchall()}:
                raise already_exists("meter numbers held by other meters", "METER_NUMBER_TAKEN", *[
                    FieldViolation(f"meters[{i}].meter_number", "is registered to another meter")
                    for i, digest in enumerate(digests) if digest in taken][:100])
            cur = await conn.execute(
                "INSERT INTO meters.smart_meters SELECT * FROM new_meters ON CONFLICT (id) DO NOTHING"
            )
            await audit.record(conn, after={"requested": len(meters), "created": cur.rowcount,
                                            "already_existed": len(meters) - cur.rowcount})
            return cur.rowcount

    async def list_meters(self, after_id: int, limit: int, transformer_id: int = 0) -> list[meter_pb2.Meter]:
        where = "m.id > %s" + (" AND m.transformer_id = %s" if transformer_id else "")
        params = [after_id] + ([transformer_id] if transformer_id else []) + [limit]
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_METER_COLUMNS} FROM meters.smart_meters m WHERE {where} ORDER BY m.id LIMIT %s", params
            )
            return [_meter(r) for r in await cur.fetchall()]

    async def get_meter(self, meter_id: int) -> meter_pb2.Meter:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"""SELECT {_METER_COLUMNS}, s.n, coalesce(extract(epoch FROM s.last)::bigint, 0)
                    FROM meters.smart_meters m,
                         LATERAL (SELECT count(*) AS n, max(reading_time) AS last
                                  FROM meters.meter_readings WHERE meter_id = m.id) s
                    WHERE m.id = %s""",
                [meter_id],
            )
            row = await cur.fetchone()
        if row is None:
            raise not_found("meter", f"meters/{meter_id}")
        return _meter(row[:7], row[7], row[8])

    async def list_readings(
        self, meter_id: int, start_s: int, end_s: int, after_s: int | None, limit: int
    ) -> list[reading_pb2.Reading]:
        lower = max(start_s, (after_s + 1) if after_s is not None else start_s)
        # Times past year 9999 hold no readings and no datetime: a bound beyond it reads as 9999.
        lower, end_s = min(lower, MAX_UNIX_S), min(end_s, MAX_UNIX_S)
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"""SELECT extract(epoch FROM reading_time)::bigint, consumption_kwh, demand_kw, voltage,
                          current_amps, power_factor, quality_flag, {quality_method_sql()}, reason_code, version,
                          frequency_hz
                   FROM meters.meter_readings
                   WHERE meter_id = %s AND reading_time >= %s AND reading_time < %s
                   ORDER BY reading_time LIMIT %s""",
                [meter_id, from_unix(lower), from_unix(end_s), limit],
            )
            rows = await cur.fetchall()
        return [
            reading_pb2.Reading(
                meter_id=meter_id, reading_time_unix_s=t, consumption_kwh=kwh, demand_kw=kw, voltage_v=v,
                current_a=a, power_factor=pf, quality_flag=flag, quality_method=method, reason_code=reason,
                update_time_unix_s=version, frequency_hz=hz,
            )
            for t, kwh, kw, v, a, pf, flag, method, reason, version, hz in rows
        ]

    async def meter_exists(self, meter_id: int) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT 1 FROM meters.smart_meters WHERE id = %s", [meter_id])
            return await cur.fetchone() is not None
