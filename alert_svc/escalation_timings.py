"""Escalation timing figures, from the recorded steps: how late each tier was taken after it fell due.

`timing_figures` reads `alerts.escalation_steps` (at - due_at, per tier); `measure` makes them on a
scratch database of the given server: alerts raised through the store, an escalator on a real clock
with short windows, half the alerts acknowledged once their tier 2 is taken, so the figures also say
whether an acknowledged alert ever escalated again (it must not). For `meters evaluate`:
`evaluate(job)` returns the flat figures of evaluation modules (meters/ml_jobs.py).
"""

import asyncio
import datetime as dt
import math
import statistics
import time
import urllib.parse
import uuid
from pathlib import Path

import psycopg

from alert_svc.escalation import Escalator
from alert_svc.escalation_policy import EscalationPolicy, Tier
from alert_svc.store import AlertStore, NewAlert
from meters.audit import Actor, Change
from meters.db import migrate, open_pool

MIGRATIONS = Path(__file__).parent / "migrations"
_EVALUATION = Actor.system("escalation-evaluation")
_CHANNELS = frozenset({"pagerduty", "teams", "email", "servicenow"})  # queued, never sent: no dispatcher runs


def _quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile."""
    return sorted(values)[max(math.ceil(q * len(values)) - 1, 0)]


def figures_of(delays: dict[int, list[float]]) -> dict[str, float]:
    """Per tier: steps, and the delay (seconds from due to taken) median, 95th percentile and maximum."""
    figures: dict[str, float] = {}
    for tier, values in sorted(delays.items()):
        prefix = f"alert_escalation_tier{tier}"
        figures[f"{prefix}_steps"] = float(len(values))
        if values:
            figures[f"{prefix}_delay_p50_s"] = statistics.median(values)
            figures[f"{prefix}_delay_p95_s"] = _quantile(values, 0.95)
            figures[f"{prefix}_delay_max_s"] = max(values)
    return figures


def timing_figures(conn: psycopg.Connection, since: dt.datetime | None = None) -> dict[str, float]:
    """The figures of the steps recorded in `conn`'s database (since `since`, if given)."""
    rows = conn.execute("SELECT tier, extract(epoch FROM at - due_at)::float8 FROM alerts.escalation_steps"
                        " WHERE %s::timestamptz IS NULL OR at >= %s ORDER BY tier, at", [since, since]).fetchall()
    delays: dict[int, list[float]] = {}
    for tier, delay in rows:
        delays.setdefault(tier, []).append(delay)
    return figures_of(delays)


async def _raise(store: AlertStore, count: int, run: str) -> list[int]:
    ids = []
    for i in range(count):
        new = NewAlert(title=f"evaluation alert {i}", description="", severity="critical", source="manual",
                       confidence=None, asset_type="transformer", asset_id=i + 1, dedup_key=f"{run}-{i}",
                       detected_at=dt.datetime.now(dt.UTC), labels={})
        change = Change("alerts", "create", actor=_EVALUATION, method="evaluation.create")
        ids.append((await store.create(new, sorted(_CHANNELS), change))[0]["id"])
    return ids


async def _run(dsn: str, alerts: int, window_s: float, poll_s: float, timeout_s: float) -> dict[str, float]:
    policy = EscalationPolicy(critical=(Tier(after_s=window_s, channels=("pagerduty", "teams")),
                                        Tier(after_s=window_s, channels=("servicenow", "email"))))
    pool = await open_pool(dsn, max_size=4)
    try:
        store = AlertStore(pool)
        ids = await _raise(store, alerts, uuid.uuid4().hex[:8])
        to_ack = set(ids[::2])
        escalator = Escalator(pool, policy, _CHANNELS, poll_s)
        deadline = time.monotonic() + timeout_s
        done: set[tuple[int, int]] = set()
        wanted = {(i, 2) for i in ids} | {(i, 3) for i in ids if i not in to_ack}
        while not wanted <= done and time.monotonic() < deadline:
            for step in await escalator.escalate_due():
                done.add((step["alert_id"], step["tier"]))
                if step["alert_id"] in to_ack and step["tier"] == 2:
                    change = Change(f"alerts/{step['alert_id']}", "acknowledge", actor=_EVALUATION,
                                    method="evaluation.acknowledge")
                    await store.acknowledge(step["alert_id"], "evaluation", change)
            await asyncio.sleep(poll_s)
        # a while longer than a window: an acknowledged alert's tier 3 would have fallen due by now
        end = time.monotonic() + window_s + 2 * poll_s
        while time.monotonic() < end:
            done.update((s["alert_id"], s["tier"]) for s in await escalator.escalate_due())
            await asyncio.sleep(poll_s)
    finally:
        await pool.close()
    with psycopg.connect(dsn) as conn:
        figures = timing_figures(conn)
    figures["alert_escalation_missed_steps"] = float(len(wanted - done))
    figures["alert_escalation_after_ack"] = float(sum(1 for i, tier in done if i in to_ack and tier > 2))
    return figures


def _database(dsn: str, name: str) -> str:
    """`dsn` (a postgresql:// URL) naming database `name` instead."""
    return urllib.parse.urlsplit(dsn)._replace(path=f"/{name}").geturl()


def measure(dsn: str, alerts: int = 40, window_s: float = 1.0, poll_s: float = 0.25,
            timeout_s: float = 60.0) -> dict[str, float]:
    """Escalation timings on a scratch database of `dsn`'s server (created, migrated, dropped)."""
    admin = _database(dsn, "postgres")
    name = f"escalation_eval_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        scratch = _database(dsn, name)
        migrate(scratch, MIGRATIONS)
        return asyncio.run(_run(scratch, alerts, window_s, poll_s, timeout_s))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def evaluate(job) -> dict[str, float]:
    """meters evaluate: escalation timings on the configured PostgreSQL (METERS_PG_DSN)."""
    from alert_svc.config import AlertSettings

    return measure(AlertSettings().pg_dsn, alerts=10 if job.quick else 40)
