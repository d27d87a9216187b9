"""The model registry's records on real PostgreSQL: runs, and decisions that move the file registry's
pointers in one transaction with their audit events; rollback restores the version served before."""

import asyncio
import datetime as dt

import psycopg
import pytest

from meters.db import migrate, open_pool
from meters.errors import DomainError
from meters.model_lifecycle import MIGRATIONS, store
from meters.model_registry import PROMOTED, SHADOW, ModelRegistry
from tests.test_model_registry import save

pytestmark = pytest.mark.infra
MODEL = "forecast-network"


@pytest.fixture
def db(fresh_db):
    migrate(fresh_db, MIGRATIONS)
    return fresh_db


def audit(dsn):
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT actor, method, resource, action, after->>'version' FROM audit.events"
                            " WHERE resource = %s ORDER BY id", [f"models/{MODEL}"]).fetchall()


def test_shadow_promote_refuse_rollback_move_pointers_with_their_audit_rows(db, tmp_path):
    registry = ModelRegistry(tmp_path)
    old, new, bad = (save(registry, MODEL, w).manifest.version for w in ("old", "new", "bad"))
    registry.promote(MODEL, old)  # as `meters train` left it, before any record

    async def lifecycle():
        pool = await open_pool(db)
        try:
            run_id = await store.record_run(pool, store.Run(MODEL, "schedule", "test", dt.datetime.now(dt.timezone.utc),
                                                            new, artifact_sha256="ab" * 32),
                                            store.job_change("record_run", "schedule"))
            await store.decide(pool, registry, MODEL, "shadow", new, store.job_change("shadow"), run_id=run_id)
            assert registry.pointed(MODEL, SHADOW) == new and registry.pointed(MODEL, PROMOTED) == old
            row = await store.decide(pool, registry, MODEL, "promote", new, store.job_change("promote"), {"x": 1})
            assert (row["from_version"], row["to_version"]) == (old, new)
            assert registry.pointed(MODEL, PROMOTED) == new and registry.pointed(MODEL, SHADOW) is None
            await store.decide(pool, registry, MODEL, "shadow", bad, store.job_change("shadow"))
            refused = await store.decide(pool, registry, MODEL, "refuse", None, store.job_change("refuse"))
            assert refused["to_version"] == bad and registry.pointed(MODEL, SHADOW) is None
            assert registry.pointed(MODEL, PROMOTED) == new
            back = await store.rollback(pool, registry, MODEL, store.job_change("rollback", "cli"))
            assert (back["from_version"], back["to_version"]) == (new, old)
            assert registry.pointed(MODEL, PROMOTED) == old
            return [(d["action"], d["to_version"]) for d in await store.decisions(pool, MODEL)], run_id
        finally:
            await pool.close()

    decisions, run_id = asyncio.run(lifecycle())
    assert decisions == [("shadow", new), ("promote", new), ("shadow", bad), ("refuse", bad), ("rollback", old)]
    assert [(a[0], a[3], a[4]) for a in audit(db)] == [
        ("system:schedule", "record_run", new), ("system:model-training", "shadow", new),
        ("system:model-training", "promote", new), ("system:model-training", "shadow", bad),
        ("system:model-training", "refuse", bad), ("system:cli", "rollback", old)]


def test_a_decision_that_fails_to_commit_leaves_the_pointers_as_they_were(db, tmp_path):
    registry = ModelRegistry(tmp_path)
    old, new = (save(registry, MODEL, w).manifest.version for w in ("old", "new"))
    registry.promote(MODEL, old)

    async def attempt():
        pool = await open_pool(db)
        try:  # run 999 does not exist: the foreign key fails the INSERT
            await store.decide(pool, registry, MODEL, "promote", new, store.job_change("promote"), run_id=999)
        finally:
            await pool.close()

    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        asyncio.run(attempt())
    assert registry.pointed(MODEL, PROMOTED) == old
    assert audit(db) == []


def test_rollback_without_a_recorded_promotion_is_refused(db, tmp_path):
    registry = ModelRegistry(tmp_path)
    registry.promote(MODEL, save(registry, MODEL, "only").manifest.version)

    async def attempt():
        pool = await open_pool(db)
        try:
            await store.rollback(pool, registry, MODEL, store.job_change("rollback", "cli"))
        finally:
            await pool.close()

    with pytest.raises(DomainError, match="no earlier promoted version"):
        asyncio.run(attempt())


def test_an_unrecorded_change_of_the_registry_tables_fails_at_commit(db):
    for table in ("model_registry.runs", "model_registry.decisions"):
        with psycopg.connect(db) as conn:
            conn.execute(f"DELETE FROM {table}")
            with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match=table):
                conn.commit()


def test_a_failed_training_run_is_recorded_with_its_error_and_moves_nothing(fresh_db, tmp_path):
    """`meters train forecast` with no measured demand stored: the run is recorded as failed, with
    the reason, and the error is raised; no pointer, no decision."""
    from pathlib import Path

    from meters.model_lifecycle import jobs

    migrate(fresh_db, Path(__file__).resolve().parents[1] / "forecast_svc" / "migrations")
    registry = ModelRegistry(tmp_path)
    with pytest.raises(DomainError, match="no measured network demand"):
        asyncio.run(jobs.run("forecast", fresh_db, registry, job="schedule"))
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT model, job, status, version, error_message FROM model_registry.runs").fetchall() \
            == [("forecast-network", "schedule", "failed", None, "no measured network demand in the data window")]
        assert conn.execute("SELECT count(*) FROM model_registry.decisions").fetchone()[0] == 0
        assert conn.execute("SELECT actor, action, outcome FROM audit.events").fetchall() == [
            ("system:schedule", "record_run", "OK")]
    assert registry.versions("forecast-network") == []


def test_shadow_forecasts_of_candidates_no_longer_in_shadow_are_pruned(fresh_db, tmp_path):
    from pathlib import Path

    from forecast_svc import promotion

    migrate(fresh_db, Path(__file__).resolve().parents[1] / "forecast_svc" / "migrations", MIGRATIONS)
    registry = ModelRegistry(tmp_path)
    old, new = (save(registry, MODEL, w).manifest.version for w in ("old", "new"))
    registry.point(MODEL, SHADOW, new)
    with psycopg.connect(fresh_db) as conn:
        for request, shadow in ((1, old), (2, new)):
            for role, version in (("promoted", "p"), ("shadow", shadow)):
                conn.execute("INSERT INTO forecast.shadow_forecasts (request_id, role, model_version, \"timestamp\","
                             " predicted_demand_mw, latency_seconds) VALUES (%s, %s, %s, now(), 1, 0.1)",
                             [request, role, version])

    async def prune():
        pool = await open_pool(fresh_db)
        try:
            return await promotion.prune(pool, registry)
        finally:
            await pool.close()

    assert asyncio.run(prune()) == 2  # request 1's pair: its candidate is no longer in shadow
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT DISTINCT request_id FROM forecast.shadow_forecasts").fetchall() == [(2,)]
    registry.point(MODEL, SHADOW, None)
    assert asyncio.run(prune()) == 2
