"""Daily range partitions of a table on one timestamptz column (UTC days, `<table>_YYYYMMDD`).

Writers create the partitions their rows need (`DailyPartitions.ensure`: only the days present,
never a whole range between two far-apart times); the retention job lists those past its window
(`expired`) and removes each with `detach` then `drop` (meters/retention.py).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Iterable

from psycopg import AsyncConnection, sql

DAY_S = 86_400
EPOCH = date(1970, 1, 1)


def day_of(unix_s: int) -> date:
    return EPOCH + timedelta(days=int(unix_s) // DAY_S)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _split(table: str) -> tuple[str, str]:
    schema, _, name = table.partition(".")
    if not name:
        raise ValueError(f"{table!r}: a partitioned table is named schema.table")
    return schema, name


async def is_partitioned(conn: AsyncConnection, table: str) -> bool:
    """False for a plain table or a TimescaleDB hypertable (which keeps its own chunks)."""
    cur = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))", [table])
    return (await cur.fetchone())[0]


class DailyPartitions:
    """Creates the daily partitions of one table as rows need them; remembers the days it has seen
    (per database: one process may write to several, as tests do)."""

    def __init__(self, table: str):
        self.schema, self.name = _split(table)
        self.table = table
        self._ready: dict[str, set[date]] = {}

    async def ensure(self, conn: AsyncConnection, days: Iterable[date]) -> int:
        """Create the partitions of `days` that do not exist yet; return how many.

        In a transaction of its own, or a savepoint of the caller's: then the new partitions, and the lock
        on the parent, last until the caller commits."""
        ready = self._ready.setdefault(conn.info.dsn, set())
        missing = sorted(set(days) - ready)
        if not missing:
            return 0
        created = 0
        async with conn.transaction():
            if await is_partitioned(conn, self.table):
                # Serialises writers creating the same day (two CREATEs of one partition would collide).
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"partitions:{self.table}"])
                for day in missing:
                    part = f"{self.name}_{day:%Y%m%d}"
                    cur = await conn.execute("SELECT to_regclass(%s) IS NULL", [f"{self.schema}.{part}"])
                    if (await cur.fetchone())[0]:
                        await conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                            sql.Identifier(self.schema, part), sql.Identifier(self.schema, self.name),
                            sql.Literal(_midnight(day)), sql.Literal(_midnight(day + timedelta(days=1)))))
                        created += 1
        ready.update(missing)
        return created


@dataclass(frozen=True)
class Partition:
    parent: str  # schema.table
    name: str  # the partition's own name, in the parent's schema
    upper: datetime  # exclusive upper bound
    state: str  # 'attached', 'pending' (a DETACH CONCURRENTLY interrupted) or 'detached' (not yet dropped)

    @property
    def qualified(self) -> str:
        return f"{_split(self.parent)[0]}.{self.name}"


# A partition's upper bound, read back from its FOR VALUES clause (rendered in the session's time zone,
# and cast back in the same one). Tables of the naming pattern that are no longer attached are
# partitions a job detached but did not get to drop (a crash between the two steps).
_EXPIRED = """
SELECT c.relname, substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \\(''([^'']+)''\\)')::timestamptz,
       CASE WHEN i.inhdetachpending THEN 'pending' ELSE 'attached' END
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass(%(table)s)
UNION ALL
SELECT c.relname, to_date(right(c.relname, 8), 'YYYYMMDD')::timestamp AT TIME ZONE 'UTC' + interval '1 day', 'detached'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind = 'r' AND NOT c.relispartition
  AND c.relname ~ ('^' || %(name)s || '_[0-9]{8}$')
"""


async def expired(conn: AsyncConnection, table: str, before: datetime) -> list[Partition]:
    """Partitions of `table` (and leftovers detached from it) whose every row is older than `before`."""
    schema, name = _split(table)
    cur = await conn.execute(f"SELECT * FROM ({_EXPIRED}) p (name, upper, state) WHERE upper <= %(before)s"
                             " ORDER BY upper", {"table": table, "schema": schema, "name": name, "before": before})
    return [Partition(table, n, upper, state) for n, upper, state in await cur.fetchall()]


async def detach(conn: AsyncConnection, part: Partition) -> None:
    """Detach without blocking readers and writers of the parent (`conn` must be in autocommit)."""
    if part.state == "detached":
        return
    how = "FINALIZE" if part.state == "pending" else "CONCURRENTLY"
    schema, name = _split(part.parent)
    await conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {} " + how).format(
        sql.Identifier(schema, name), sql.Identifier(schema, part.name)))


async def drop(conn: AsyncConnection, part: Partition) -> int:
    """Drop a detached partition inside the caller's transaction; return the rows it held."""
    table = sql.Identifier(*_split(part.qualified))
    cur = await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table))
    rows = (await cur.fetchone())[0]
    await conn.execute(sql.SQL("DROP TABLE {}").format(table))
    return rows
