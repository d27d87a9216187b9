"""The escalator: alerts left open past their tier's window go to the next tier and are notified again.

One pass is one transaction. Due alerts are claimed with FOR UPDATE OF the alert row SKIP LOCKED, so
several replicas share the work and never take the same step twice; acknowledging and resolving lock
the same row, so a step and an acknowledgement are serialised (whichever commits first wins: a step
taken before the acknowledgement gets its follow-ups, an alert acknowledged first is no longer due).
Each step writes its `alerts.escalation_steps` row (unique per alert and tier), its outbox rows (the
dispatcher sends them like any notification) and its audit event together: a crash before the commit
leaves the step due, after it leaves it done, so a restart resumes where it was.
No gRPC here; the policy is alert_svc/escalation_policy.py.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from alert_svc import metrics
from alert_svc.escalation_policy import SEVERITIES, EscalationPolicy
from alert_svc.store import NOTIFY_CHANNEL
from meters.audit import Actor, record

log = logging.getLogger(__name__)

ESCALATOR = Actor.system("escalation")
METHOD = "escalation.escalate"
BATCH = 100

# The next tier of each open alert whose policy has one, with the time it falls due: the previous
# step's time (the alert's creation for tier 1) plus the tier's window.
_DUE = """
WITH policy (severity, tier, after_s) AS (SELECT * FROM unnest(%s::text[], %s::int[], %s::float8[]))
SELECT a.id, a.severity, p.tier, coalesce(last.at, a.created_at) + make_interval(secs => p.after_s) AS due_at
FROM alerts.alerts a
LEFT JOIN LATERAL (SELECT s.tier, s.at FROM alerts.escalation_steps s WHERE s.alert_id = a.id
                   ORDER BY s.tier DESC LIMIT 1) last ON true
JOIN policy p ON p.severity = a.severity AND p.tier = coalesce(last.tier, 1) + 1
WHERE a.status = 'open' AND coalesce(last.at, a.created_at) + make_interval(secs => p.after_s) <= now()
ORDER BY due_at, a.id LIMIT %s
FOR UPDATE OF a SKIP LOCKED"""


class Escalator:
    def __init__(self, pool: AsyncConnectionPool, policy: EscalationPolicy, enabled: frozenset[str],
                 poll_s: float, wait: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self._pool = pool
        self._policy = policy
        self._enabled = enabled
        self._poll_s = poll_s
        self._wait = wait
        for severity in SEVERITIES:  # zero series for every tier the policy has
            for number in range(2, len(policy.tiers(severity)) + 2):
                metrics.ESCALATIONS.labels(severity, str(number))

    async def escalate_due(self) -> list[dict]:
        """Take every step due now (up to BATCH) in one transaction; the steps taken."""
        severities, tiers, windows = self._policy.windows()
        if not severities:
            return []
        async with self._pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(_DUE, [severities, tiers, windows, BATCH])
            steps = [step for row in await cur.fetchall() if (step := await self._step(conn, row))]
            if steps:  # wakes the outbox dispatcher (and watchers, who find no new sequence)
                await conn.execute("SELECT pg_notify(%s, 'escalation')", [NOTIFY_CHANNEL])
        for step in steps:
            metrics.ESCALATIONS.labels(step["severity"], str(step["tier"])).inc()
            log.info("alert escalated", extra={"fields": step})
        return steps

    async def _step(self, conn: AsyncConnection, row: dict) -> dict | None:
        tier = row["tier"]
        channels = [c for c in self._policy.tier(row["severity"], tier).channels if c in self._enabled]
        # In a savepoint: the audit trigger notes any INSERT statement, even one that inserted nothing,
        # so a step another escalator took meanwhile is rolled back with its note (else a pass whose
        # every step was taken by the other would fail to commit for want of an audit event).
        async with conn.transaction() as savepoint:
            cur = await conn.execute(
                """INSERT INTO alerts.escalation_steps (alert_id, tier, severity, due_at, channels)
                   VALUES (%s, %s, %s, %s, %s) ON CONFLICT (alert_id, tier) DO NOTHING RETURNING at""",
                [row["id"], tier, row["severity"], row["due_at"], channels])
            taken = await cur.fetchone()
            if taken is None:  # another escalator took it after this one's snapshot: nothing to do
                raise psycopg.Rollback(savepoint)
        if taken is None:
            return None
        if channels:
            await conn.cursor().executemany(
                "INSERT INTO alerts.outbox (alert_id, channel, tier) VALUES (%s, %s, %s)",
                [(row["id"], c, tier) for c in channels])
        late_s = (taken[0] - row["due_at"]).total_seconds()
        await record(conn, resource=f"alerts/{row['id']}", action="escalate", actor=ESCALATOR, method=METHOD,
                     before={"tier": tier - 1},
                     after={"tier": tier, "channels": channels, "due_at": row["due_at"].isoformat()})
        return {"alert_id": row["id"], "severity": row["severity"], "tier": tier, "channels": channels,
                "late_s": round(late_s, 3)}

    async def run_forever(self) -> None:
        log.info("escalation policy", extra={"fields": {"policy": self._policy.model_dump(mode="json")}})
        while True:
            try:
                while len(await self.escalate_due()) == BATCH:
                    pass
            except Exception:  # noqa: BLE001 - the database may be briefly away; due steps stay due
                log.exception("escalation pass failed; retrying")
            await self._wait(self._poll_s)

