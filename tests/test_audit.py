"""The audit trail on real PostgreSQL: append-only, no audited change commits without its record,
refused attempts are recorded, and the trail's own retention drops whole months past seven years."""

import asyncio
import datetime as dt
from pathlib import Path

import psycopg
import pytest

from alert_svc.store import AlertStore, NewAlert
from meters.audit import Actor, Change, call, record
from meters.audit import retention as audit_retention
from meters.db import migrate, open_pool
from meters.errors import DomainError, failed_precondition

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[1]
SERVICE_MIGRATIONS = [*sorted(REPO.glob("*_svc/migrations")), REPO / "meters" / "model_lifecycle" / "migrations"]
TESTER = Actor("test-user", "token", ("grid_ops",), "client")
METHOD = "/meters.alert.v1.AlertService/AcknowledgeAlert"

# Every table whose changes need their audit event, by the service owning it.
GUARDED = {
    "alerts.alerts", "alerts.escalation_steps", "customers.customers", "customers.customer_meters",
    "customers.demand_response_events", "customers.demand_response_participants", "customers.segmentation_runs", "customers.regional_weather",
    "customers.regional_weather_forecasts",
    "customers.customer_recommendations",
    "forecast.meter_scopes", "forecast.model_versions", "grid.substations", "grid.transformers",
    "grid.meter_connections", "grid.feeders", "grid.planned_work", "meters.smart_meters",
    "model_registry.runs", "model_registry.decisions",
}


@pytest.fixture
def db(fresh_db):
    migrate(fresh_db, *SERVICE_MIGRATIONS)
    return fresh_db


def events(dsn: str, where: str = "TRUE", params=()) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT actor, method, resource, action, before, after, outcome FROM audit.events"
                            f" WHERE {where} ORDER BY id", params).fetchall()


async def _new_alert(dsn: str) -> int:
    pool = await open_pool(dsn)
    try:
        change = Change("alerts", "create", actor=TESTER, method="/meters.alert.v1.AlertService/CreateAlert")
        row, created = await AlertStore(pool).create(NewAlert(
            "T-1 hot", "", "warning", "failure_prediction", 0.9, "transformer", 1, "k1",
            dt.datetime.now(dt.timezone.utc), {}), [], change)
        assert created
        return row["id"]
    finally:
        await pool.close()


def test_the_audit_schema_comes_with_any_service_migration(fresh_db):
    migrate(fresh_db, REPO / "alert_svc" / "migrations")
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT to_regclass('audit.events') IS NOT NULL").fetchone()[0]


def test_events_are_append_only(db):
    alert_id = asyncio.run(_new_alert(db))
    with psycopg.connect(db, autocommit=True) as conn:
        month = conn.execute("SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC'), 'YYYYMMDD')").fetchone()[0]
        for sql in ("UPDATE audit.events SET actor = 'someone-else'", "DELETE FROM audit.events",
                    "TRUNCATE audit.events", f"TRUNCATE audit.events_{month}",
                    f"UPDATE audit.events_{month} SET outcome = 'OK'", f"DELETE FROM audit.events_{month}"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(sql)
    assert events(db) == [("test-user", "/meters.alert.v1.AlertService/CreateAlert", f"alerts/{alert_id}", "create",
                           None, {"status": "open", "severity": "warning", "source": "failure_prediction",
                                  "title": "T-1 hot", "asset_type": "transformer", "asset_id": 1, "channels": []},
                           "OK")]


def test_a_change_without_its_audit_event_cannot_commit(db):
    alert_id = asyncio.run(_new_alert(db))
    with psycopg.connect(db) as conn:
        conn.execute("UPDATE alerts.alerts SET status = 'acknowledged' WHERE id = %s", [alert_id])  # accepted...
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="without its audit event"):
            conn.commit()  # ... and refused at COMMIT
    with psycopg.connect(db, autocommit=True) as conn:  # a statement on its own is its own transaction
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
            conn.execute("UPDATE alerts.alerts SET status = 'resolved' WHERE id = %s", [alert_id])
        assert conn.execute("SELECT status FROM alerts.alerts WHERE id = %s", [alert_id]).fetchone()[0] == "open"
        # Not audited: the outbox marking the alert notified.
        conn.execute("UPDATE alerts.alerts SET notified_at = now() WHERE id = %s", [alert_id])


def test_the_same_change_with_its_record_commits(db):
    alert_id = asyncio.run(_new_alert(db))

    async def acknowledge():
        async with await psycopg.AsyncConnection.connect(db) as conn, conn.transaction():
            await conn.execute("UPDATE alerts.alerts SET status = 'acknowledged' WHERE id = %s", [alert_id])
            await record(conn, resource=f"alerts/{alert_id}", action="acknowledge", actor=TESTER, method=METHOD,
                         before={"status": "open"}, after={"status": "acknowledged"})

    asyncio.run(acknowledge())
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT status FROM alerts.alerts WHERE id = %s", [alert_id]).fetchone()[0] == "acknowledged"
        assert conn.execute("SELECT count(*) FROM audit.pending").fetchone()[0] == 0  # checked and cleared
    assert events(db, "action = 'acknowledge'")[0][4:] == ({"status": "open"}, {"status": "acknowledged"}, "OK")


def test_every_audited_table_refuses_an_unrecorded_change(db):
    with psycopg.connect(db) as conn:
        guarded = {r[0] for r in conn.execute(
            """SELECT DISTINCT c.relnamespace::regnamespace || '.' || c.relname FROM pg_trigger t
               JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgfoid = 'audit.note_change'::regproc""").fetchall()}
    assert guarded == GUARDED
    for table in sorted(GUARDED):
        for sql in (f"DELETE FROM {table}", f"TRUNCATE {table} CASCADE"):
            with psycopg.connect(db) as conn:
                conn.execute(sql)  # nothing to delete, yet a change of the table all the same
                with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match=table):
                    conn.commit()


def test_a_refused_attempt_is_recorded_with_its_status(db):
    async def attempt():
        pool = await open_pool(db)
        try:
            with pytest.raises(DomainError):
                async with call(pool, "alerts/7", "resolve") as change:
                    change.actor, change.method = TESTER, METHOD
                    raise failed_precondition("alerts/7 is already resolved", "ALERT_RESOLVED")
        finally:
            await pool.close()

    asyncio.run(attempt())
    assert events(db) == [("test-user", METHOD, "alerts/7", "resolve", None, None, "FAILED_PRECONDITION")]


def test_an_event_needs_its_method_outside_an_rpc(db):
    async def without_method():
        async with await psycopg.AsyncConnection.connect(db) as conn:
            await record(conn, resource="x", action="y", actor=TESTER)

    with pytest.raises(ValueError, match="method"):
        asyncio.run(without_method())


def test_audit_retention_drops_months_past_seven_years_and_records_it(db):
    now = dt.datetime.now(dt.timezone.utc)
    with psycopg.connect(db) as conn:  # a month nine years back, with one event in it
        conn.execute("SELECT audit.ensure_month(%s)", [dt.date(now.year - 9, 1, 1)])
        conn.execute("""INSERT INTO audit.events (occurred_at, actor, actor_via, service, method, resource, action)
                        VALUES (%s, 'old', 'system', 'alert', 'm', 'alerts/1', 'create')""",
                     [dt.datetime(now.year - 9, 1, 15, tzinfo=dt.timezone.utc)])
        conn.execute("SELECT audit.ensure_month(%s)", [dt.date(now.year - 6, 1, 1)])  # inside the window
    dropped = asyncio.run(audit_retention.job(db, audit_retention.AuditSettings()).run_once())
    assert [d.partition.name for d in dropped] == [f"events_{now.year - 9}0101"]
    assert dropped[0].rows == 1
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT to_regclass(%s)", [f"audit.events_{now.year - 6}0101"]).fetchone()[0]
    (actor, method, resource, action, before, _after, outcome), = events(db, "action = 'drop_partition'")
    assert (actor, method, resource, outcome) == ("system:retention", "retention.drop_partition",
                                                  f"audit.events_{now.year - 9}0101", "OK")
    assert before["rows"] == 1 and before["table"] == "audit.events"
