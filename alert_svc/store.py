"""PostgreSQL reads and writes of alerts: de-duplication, lifecycle, change sequence, outbox rows."""

import datetime as dt
from dataclasses import dataclass, field

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from meters.audit import Change
from meters.errors import failed_precondition, not_found

NOTIFY_CHANNEL = "alerts_changed"
# Held (transaction-scoped) by every writer while it takes and commits a sequence number.
_SEQUENCE_LOCK = 7420001
COLUMNS = """a.*, ARRAY(SELECT DISTINCT o.channel FROM alerts.outbox o
  WHERE o.alert_id = a.id AND o.action = 'trigger' AND o.delivered_at IS NOT NULL ORDER BY o.channel)
  AS notified_channels"""
# Channels that keep an incident open until told otherwise, and the follow-up each change owes them.
FOLLOW_UPS = {"acknowledged": ("acknowledge", ["pagerduty"]), "resolved": ("resolve", ["pagerduty", "servicenow"])}


@dataclass
class NewAlert:
    title: str
    description: str
    severity: str
    source: str
    confidence: float | None
    asset_type: str | None
    asset_id: int | None
    dedup_key: str
    detected_at: dt.datetime
    labels: dict[str, str]


@dataclass
class AlertFilter:
    severities: list[str] = field(default_factory=list)
    status: str | None = None
    source: str | None = None
    asset_type: str | None = None
    asset_id: int = 0
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def sql(self) -> tuple[list[str], list]:
        where, params = [], []
        for clause, value in (("a.status = %s", self.status), ("a.source = %s", self.source),
                              ("a.asset_type = %s", self.asset_type), ("a.asset_id = %s", self.asset_id or None),
                              ("a.detected_at >= %s", self.start), ("a.detected_at < %s", self.end)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if self.severities:
            where.append("a.severity = ANY(%s)")
            params.append(self.severities)
        return where, params


async def lock_sequence(conn: AsyncConnection) -> None:
    """Serialise alert writers until commit. Writers take it before any alert row lock (no deadlocks)."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", [_SEQUENCE_LOCK])


async def next_sequence(conn: AsyncConnection) -> int:
    """Take the next change sequence; the advisory lock makes sequences commit in order."""
    await lock_sequence(conn)
    cur = await conn.execute("SELECT nextval('alerts.change_seq')")
    seq = (await cur.fetchone())[0]
    await conn.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, str(seq)])
    return seq


class AlertStore:
    def __init__(self, pool: AsyncConnectionPool):
        self._pool = self.pool = pool

    async def _fetch(self, conn: AsyncConnection, alert_id: int) -> dict:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"SELECT {COLUMNS} FROM alerts.alerts a WHERE a.id = %s", [alert_id])
        row = await cur.fetchone()
        if row is None:
            raise not_found("alert", f"alerts/{alert_id}")
        return row

    async def create(self, alert: NewAlert, channels: list[str], audit: Change) -> tuple[dict, bool]:
        """Raise `alert`, or fold it into the unresolved alert with its dedup_key; queue its notifications.
        Recorded in the audit trail in the same transaction."""
        async with self._pool.connection() as conn, conn.transaction():
            seq = await next_sequence(conn)
            cur = await conn.execute(
                """UPDATE alerts.alerts SET occurrences = occurrences + 1, last_seen_at = now(), sequence = %s,
                     last_change = 'repeated', updated_at = now()
                   WHERE dedup_key = %s AND status <> 'resolved' RETURNING id, occurrences""", [seq, alert.dedup_key])
            existing = await cur.fetchone()
            if existing:
                await audit.record(conn, resource=f"alerts/{existing[0]}", action="repeat",
                                   before={"occurrences": existing[1] - 1}, after={"occurrences": existing[1]})
                return await self._fetch(conn, existing[0]), False
            cur = await conn.execute(
                """INSERT INTO alerts.alerts (title, description, severity, source, confidence, asset_type,
                     asset_id, dedup_key, labels, detected_at, sequence, last_change)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'created') RETURNING id""",
                [alert.title, alert.description, alert.severity, alert.source, alert.confidence, alert.asset_type,
                 alert.asset_id, alert.dedup_key, Jsonb(alert.labels), alert.detected_at, seq])
            alert_id = (await cur.fetchone())[0]
            if channels:
                await conn.cursor().executemany(
                    "INSERT INTO alerts.outbox (alert_id, channel) VALUES (%s, %s)",
                    [(alert_id, c) for c in channels])
            else:  # nothing to send: notified by definition
                await conn.execute("UPDATE alerts.alerts SET notified_at = now() WHERE id = %s", [alert_id])
            await audit.record(conn, resource=f"alerts/{alert_id}", after={
                "status": "open", "severity": alert.severity, "source": alert.source, "title": alert.title,
                "asset_type": alert.asset_type, "asset_id": alert.asset_id, "channels": channels})
            return await self._fetch(conn, alert_id), True

    async def get(self, alert_id: int) -> dict:
        async with self._pool.connection() as conn:
            return await self._fetch(conn, alert_id)

    async def list_alerts(self, flt: AlertFilter, after: tuple[dt.datetime, int] | None, limit: int) -> list[dict]:
        """Newest detected first, keyset-paged on (detected_at, id)."""
        where, params = flt.sql()
        if after:
            where.append("(a.detected_at, a.id) < (%s, %s)")
            params.extend(after)
        sql = (f"SELECT {COLUMNS} FROM alerts.alerts a {'WHERE ' + ' AND '.join(where) if where else ''}"
               " ORDER BY a.detected_at DESC, a.id DESC LIMIT %s")
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql, [*params, limit])
            return await cur.fetchall()

    async def unresolved_id(self, dedup_key: str) -> int:
        """The id of the unresolved alert raised with dedup_key; NOT_FOUND when there is none."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id FROM alerts.alerts WHERE dedup_key = %s AND status <> 'resolved' ORDER BY id DESC LIMIT 1",
                [dedup_key])
            row = await cur.fetchone()
        if row is None:
            raise not_found("alert", f"dedup_key {dedup_key}")
        return row[0]

    async def _transition(self, alert_id: int, change: str, assignments: str, params: list, audit: Change,
                          after: dict) -> dict:
        async with self._pool.connection() as conn, conn.transaction():
            await lock_sequence(conn)
            cur = await conn.execute("SELECT status FROM alerts.alerts WHERE id = %s FOR UPDATE", [alert_id])
            row = await cur.fetchone()
            if row is None:
                raise not_found("alert", f"alerts/{alert_id}")
            if row[0] == "resolved":
                raise failed_precondition(f"alerts/{alert_id} is already resolved", "ALERT_RESOLVED",
                                          name=f"alerts/{alert_id}")
            if change == "acknowledged" and row[0] == "acknowledged":  # a no-op, recorded as asked for
                await audit.record(conn, before={"status": row[0]}, after={"status": row[0]})
                return await self._fetch(conn, alert_id)
            seq = await next_sequence(conn)
            await conn.execute(
                f"UPDATE alerts.alerts SET {assignments}, status = %s, sequence = %s, last_change = %s,"
                " updated_at = now() WHERE id = %s", [*params, change, seq, change, alert_id])
            action, channels = FOLLOW_UPS[change]
            await conn.execute(  # only channels (and escalation tiers) that were or will be told about the alert
                """INSERT INTO alerts.outbox (alert_id, channel, action, tier)
                   SELECT alert_id, channel, %s, tier FROM alerts.outbox
                   WHERE alert_id = %s AND action = 'trigger' AND channel = ANY(%s)
                   ON CONFLICT DO NOTHING""", [action, alert_id, channels])
            await audit.record(conn, before={"status": row[0]}, after={"status": change, **after})
            return await self._fetch(conn, alert_id)

    async def acknowledge(self, alert_id: int, by: str, audit: Change) -> dict:
        return await self._transition(alert_id, "acknowledged", "acknowledged_at = now(), acknowledged_by = %s",
                                      [by], audit, {"acknowledged_by": by})

    async def resolve(self, alert_id: int, by: str, note: str, audit: Change) -> dict:
        return await self._transition(alert_id, "resolved",
                                      "resolved_at = now(), resolved_by = %s, resolution_note = %s", [by, note],
                                      audit, {"resolved_by": by, "resolution_note": note})

    async def changes_after(self, sequence: int, flt: AlertFilter, limit: int) -> list[dict]:
        """Alerts whose latest change is after `sequence`, in sequence order."""
        where, params = flt.sql()
        where.append("a.sequence > %s")
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT {COLUMNS} FROM alerts.alerts a WHERE {' AND '.join(where)}"
                              " ORDER BY a.sequence LIMIT %s", [*params, sequence, limit])
            return await cur.fetchall()

    async def last_sequence(self) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT coalesce(max(sequence), 0) FROM alerts.alerts")
            return (await cur.fetchone())[0]

    async def open_counts(self) -> dict[str, int]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT severity, count(*) FROM alerts.alerts WHERE status <> 'resolved' GROUP BY severity")
            return dict(await cur.fetchall())
