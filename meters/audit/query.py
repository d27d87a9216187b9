"""Reading the audit trail: filtered, newest first, keyset-paged on (occurred_at, id)."""

import datetime as dt
from dataclasses import dataclass

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


@dataclass
class EventFilter:
    actor: str = ""
    method: str = ""  # a full method name, or the method alone
    resource: str = ""
    service: str = ""
    outcome: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def sql(self) -> tuple[list[str], list]:
        where, params = [], []
        method_clause = "method = %s" if self.method.startswith("/") else "split_part(method, '/', 3) = %s"
        for clause, value in (("actor = %s", self.actor), (method_clause, self.method),
                              ("resource = %s", self.resource), ("service = %s", self.service),
                              ("outcome = %s", self.outcome), ("occurred_at >= %s", self.start),
                              ("occurred_at < %s", self.end)):
            if value:
                where.append(clause)
                params.append(value)
        return where, params


async def list_events(pool: AsyncConnectionPool, flt: EventFilter, after: tuple[dt.datetime, int] | None,
                      limit: int) -> list[dict]:
    where, params = flt.sql()
    if after:
        where.append("(occurred_at, id) < (%s, %s)")
        params.extend(after)
    sql = (f"SELECT * FROM audit.events {'WHERE ' + ' AND '.join(where) if where else ''}"
           " ORDER BY occurred_at DESC, id DESC LIMIT %s")
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(sql, [*params, limit])
        return await cur.fetchall()
