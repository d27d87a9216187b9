"""Writing audit events inside the transaction of the change they record.

`Change` is built when a servicer starts a state-changing call: it captures the caller (from the
token or certificate, meters.security.identity) and the method, and the store records it with the
connection of its own transaction, adding before/after. `call` wraps the servicer's work so that a
refused attempt (a DomainError or any other failure) is recorded in a transaction of its own, since
the change's transaction and anything written in it roll back.
"""

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from meters.errors import DomainError
from meters.security.identity import Caller, current_caller

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    subject: str
    via: str
    roles: tuple[str, ...] = ()
    peer: str = ""

    @classmethod
    def of(cls, caller: Caller) -> "Actor":
        return cls(caller.subject, caller.via, tuple(sorted(caller.roles)), caller.peer)

    @classmethod
    def system(cls, job: str) -> "Actor":
        """A job of the platform acting on its own (the retention job, a benchmark's set-up)."""
        return cls(f"system:{job}", "system")


def service_of(method: str) -> str:
    """"/meters.alert.v1.AlertService/AckAlert" -> "alert"; a job's method ("retention.drop") -> "retention"."""
    if method.startswith("/meters."):
        return method.split(".", 2)[1]
    return method.split(".", 1)[0]


class _Months:
    """Monthly partitions of audit.events known to exist, per database: the current month's and the
    next are made sure of once per month and process (audit.ensure_month), so a row never meets a
    missing partition across the turn of a month, whatever the skew between this clock and the server's."""

    def __init__(self):
        self._ready: dict[str, date] = {}

    async def ensure(self, conn: AsyncConnection) -> None:
        month, following = _this_and_next_month()
        if self._ready.get(conn.info.dsn) == month:
            return
        await conn.execute(_ENSURE, [month, following])
        self._ready[conn.info.dsn] = month


def _this_and_next_month() -> tuple[date, date]:
    now = datetime.now(UTC)
    return date(now.year, now.month, 1), date(now.year + now.month // 12, now.month % 12 + 1, 1)


_ENSURE = "SELECT audit.ensure_month(%s), audit.ensure_month(%s)"


_MONTHS = _Months()
_INSERT = """INSERT INTO audit.events (actor, actor_via, actor_roles, peer, service, method, resource, action,
  before, after, outcome, error_message, request_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
  RETURNING id"""


def _plain(value):
    """JSON PostgreSQL accepts: numpy scalars as Python numbers, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json(value) -> Jsonb | None:
    return None if value is None else Jsonb(_plain(value))


async def record(conn: AsyncConnection, *, resource: str, action: str, before: dict | None = None,
                 after: dict | None = None, outcome: str = "OK", error_message: str = "", request_id: str = "",
                 actor: Actor | None = None, method: str | None = None, service: str | None = None) -> int:
    """Write one audit event in `conn`'s current transaction; its id.

    Actor and method default to the RPC being served. Outside an RPC (a job) both must be given.
    """
    await _MONTHS.ensure(conn)
    cur = await conn.execute(_INSERT, _row(resource, action, before, after, outcome, error_message, request_id,
                                           actor, method, service))
    return (await cur.fetchone())[0]


def record_sync(conn: psycopg.Connection, *, resource: str, action: str, actor: Actor, method: str,
                before: dict | None = None, after: dict | None = None) -> int:
    """`record` for a synchronous connection: scripts and benchmarks setting data up outside the RPCs."""
    conn.execute(_ENSURE, _this_and_next_month())
    return conn.execute(_INSERT, _row(resource, action, before, after, "OK", "", "", actor, method, None)).fetchone()[0]


def _row(resource, action, before, after, outcome, error_message, request_id, actor, method, service) -> list:
    caller = current_caller()
    method = method if method is not None else caller.method
    if not method:
        raise ValueError("an audit event needs the method: record it inside an RPC or pass method=")
    actor = actor or Actor.of(caller)
    return [actor.subject, actor.via, list(actor.roles), actor.peer, service or service_of(method), method, resource,
            action, _json(before), _json(after), outcome, error_message, request_id]


@dataclass
class Change:
    """One state-changing call in progress: what it acts on, for the store to record with its connection."""

    resource: str
    action: str
    request_id: str = ""
    actor: Actor = field(default_factory=lambda: Actor.of(current_caller()))
    method: str = field(default_factory=lambda: current_caller().method)
    recorded: bool = False

    async def record(self, conn: AsyncConnection, *, before: dict | None = None, after: dict | None = None,
                     resource: str | None = None, action: str | None = None) -> int:
        """Record the change in `conn`'s transaction; `resource` names it when it was not known before
        (a created alert's id), `action` when the store decided it (an alert raised again is a repeat)."""
        self.resource, self.action = resource or self.resource, action or self.action
        event = await record(conn, resource=self.resource, action=self.action, before=before, after=after,
                             request_id=self.request_id, actor=self.actor, method=self.method)
        self.recorded = True
        return event

    async def refused(self, pool, outcome: str, message: str) -> None:
        """Record a refused attempt in a transaction of its own (the change's own has rolled back)."""
        try:
            async with pool.connection() as conn, conn.transaction():
                await record(conn, resource=self.resource, action=self.action, outcome=outcome,
                             error_message=message[:500], request_id=self.request_id, actor=self.actor,
                             method=self.method)
        except Exception:  # noqa: BLE001 - the caller's own error is the one to report
            log.warning("could not record a refused call in the audit trail",
                        extra={"fields": {"method": self.method, "outcome": outcome}}, exc_info=True)


@asynccontextmanager
async def call(pool, resource: str, action: str, request_id: str = "") -> AsyncIterator[Change]:
    """The Change of the RPC being served; a failure inside is recorded with its status, then re-raised."""
    change = Change(resource, action, request_id)
    try:
        yield change
    except DomainError as err:
        await change.refused(pool, err.code.name, err.message)
        raise
    except Exception as err:
        await change.refused(pool, "INTERNAL", type(err).__name__)
        raise


RETENTION = Actor.system("retention")


async def record_partition_drop(conn: AsyncConnection, part, rows: int) -> None:
    """meters.retention's OnDrop: the record of a partition dropped past its window, in the drop's
    transaction (`part` is a meters.partitions.Partition)."""
    await record(conn, resource=part.qualified, action="drop_partition", actor=RETENTION,
                 method="retention.drop_partition",
                 before={"table": part.parent, "rows": rows, "upper_bound": part.upper.isoformat()})
