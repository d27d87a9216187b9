"""The model registry's records in PostgreSQL (schema model_registry) and the decisions that move the
file registry's pointers. Each decision, its pointer move and its audit event commit together: the
pointer file is written last inside the transaction and put back if the COMMIT fails, and an advisory
lock per model keeps two decisions about one model from interleaving."""

import datetime as dt
import uuid
from dataclasses import dataclass, field

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from meters.audit import Actor, Change
from meters.errors import failed_precondition
from meters.model_registry import PROMOTED, SHADOW, ModelRegistry

RESOURCE = "models/{}"


def job_change(action: str, job: str = "model-training") -> Change:
    """The Change of a training job acting on its own (the scheduler, a CronJob, `meters train`)."""
    return Change("models", action, actor=Actor.system(job), method=f"model_lifecycle.{action}")


@dataclass
class Run:
    """One training run: what it fitted on, what it scored, what it registered."""

    model: str
    job: str
    data_source: str
    started_at: dt.datetime
    version: str | None = None
    status: str = "succeeded"
    data_start: dt.datetime | None = None
    data_end: dt.datetime | None = None
    data_rows: int | None = None
    data_sha256: str | None = None
    metrics: dict = field(default_factory=dict)
    artifact_sha256: str | None = None
    files: dict = field(default_factory=dict)
    error_message: str = ""
    run_key: uuid.UUID = field(default_factory=uuid.uuid4)


_RUN_COLUMNS = ("run_key", "model", "version", "job", "status", "data_source", "data_start", "data_end", "data_rows",
                "data_sha256", "metrics", "artifact_sha256", "files", "error_message", "started_at")


async def record_run(pool, run: Run, change: Change) -> int:
    values = [Jsonb(v) if isinstance(v, dict) else v for v in (getattr(run, c) for c in _RUN_COLUMNS)]
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            f"INSERT INTO model_registry.runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join(['%s'] * len(values))})"
            " RETURNING id", values)
        run_id = (await cur.fetchone())[0]
        await change.record(conn, resource=RESOURCE.format(run.model), action="record_run",
                            after={"run_id": run_id, "run_key": str(run.run_key), "version": run.version,
                                   "status": run.status, "artifact_sha256": run.artifact_sha256,
                                   "data_start": str(run.data_start), "data_end": str(run.data_end)})
    return run_id


async def decide(pool, registry: ModelRegistry, model: str, action: str, version: str | None, change: Change,
                 evidence: dict | None = None, run_id: int | None = None) -> dict:
    """Record one decision and move the pointers it implies, in one transaction with its audit event:
    shadow: SHADOW -> version; promote: PROMOTED -> version, SHADOW cleared when it named it;
    refuse: SHADOW cleared; rollback: PROMOTED -> version (the one served before). The row as stored."""
    moves = {"shadow": [(SHADOW, version)], "promote": [(PROMOTED, version)], "refuse": [(SHADOW, None)],
             "rollback": [(PROMOTED, version)]}[action]
    undo: list[tuple[str, str | None]] = []
    try:
        async with pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('model_registry:' || %s))", [model])
            before = {p: registry.pointed(model, p) for p in (PROMOTED, SHADOW)}
            if action == "promote" and before[SHADOW] == version:
                moves.append((SHADOW, None))
            to_version = before[SHADOW] if action == "refuse" else version
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                """INSERT INTO model_registry.decisions (model, action, from_version, to_version, run_id, evidence)
                   VALUES (%s, %s, %s, %s, %s, %s) RETURNING *""",
                [model, action, before[PROMOTED], to_version, run_id, Jsonb(evidence or {})])
            row = await cur.fetchone()
            await change.record(conn, resource=RESOURCE.format(model), action=action, before=before,
                                after={"decision_id": row["id"], "version": to_version, **(evidence or {})})
            for pointer, target in moves:  # last, so a failure above leaves the files as they were
                undo.append((pointer, before[pointer]))
                registry.point(model, pointer, target)
    except BaseException:
        for pointer, target in reversed(undo):
            registry.point(model, pointer, target)
        raise
    return row


async def rollback(pool, registry: ModelRegistry, model: str, change: Change) -> dict:
    """Restore the version served before the current one (the from_version of the decision that
    promoted the current version); FAILED_PRECONDITION when none is recorded."""
    current = registry.pointed(model, PROMOTED)
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT from_version FROM model_registry.decisions WHERE model = %s AND action IN ('promote', 'rollback')
               AND to_version = %s AND from_version IS NOT NULL ORDER BY id DESC LIMIT 1""", [model, current])
        row = await cur.fetchone()
    if row is None:
        raise failed_precondition(f"no earlier promoted version of {model} is recorded before {current}", "NO_PREVIOUS")
    return await decide(pool, registry, model, "rollback", row[0], change,
                        {"reason": f"rollback of {current}", "replaced": current})


async def runs(pool, model: str) -> list[dict]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT * FROM model_registry.runs WHERE model = %s ORDER BY id", [model])
        return await cur.fetchall()


async def decisions(pool, model: str) -> list[dict]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT * FROM model_registry.decisions WHERE model = %s ORDER BY id", [model])
        return await cur.fetchall()


async def run_of(pool, model: str, version: str) -> int | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id FROM model_registry.runs WHERE model = %s AND version = %s",
                                 [model, version])
        row = await cur.fetchone()
    return row[0] if row else None
