"""Helpers of the lifecycle tests (demand response events, recommendations): the audit trail of one
resource, the rows a refused transition must leave as they were, and moving a row's clock."""

import datetime as dt

import grpc
import numpy as np
import pytest

from meters.audit import Actor
from meters.audit.writer import record_sync
from meters.deadlines import CALL_S
from meters.readings import ReadingColumns, from_arrays
from tests.grpc_helpers import rich_details

TEST_CLOCK = Actor.system("test-clock")
INTERVAL_S = 900


def audit_outcomes(db, resource: str) -> list[tuple[str, str]]:
    """(action, outcome) of every audit event of `resource` and the resources under it, oldest first."""
    return db.execute("SELECT action, outcome FROM audit.events WHERE resource = %s OR resource LIKE %s ORDER BY id",
                      [resource, resource + "/%"]).fetchall()


def refused_unchanged(db, resource: str, state, call, request, reason: str) -> str:
    """call(request) answers FAILED_PRECONDITION with ErrorInfo `reason`, state() is as before, and the
    audit trail of `resource` gained exactly the refused attempt; the error's message."""
    before, attempts = state(), len(audit_outcomes(db, resource))
    with pytest.raises(grpc.RpcError) as err:
        call(request, timeout=CALL_S)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION, err.value.details()
    assert rich_details(err.value)["ErrorInfo"].reason == reason, err.value.details()
    assert state() == before
    assert [outcome for _, outcome in audit_outcomes(db, resource)[attempts:]] == ["FAILED_PRECONDITION"]
    return err.value.details()


def rows(db, sql: str, params) -> list[tuple]:
    return db.execute(sql, params).fetchall()


def shift_times(db, table: str, columns: dict[str, dt.datetime], where: str, params, resource: str) -> None:
    """Set timestamps of a row as if time had passed (the audited tables need their record, so the
    shift is recorded too, by `system:test-clock`)."""
    sets = ", ".join(f"{c} = %s" for c in columns)
    with db.transaction():
        db.execute(f"UPDATE {table} SET {sets} WHERE {where}", [*columns.values(), *params])
        record_sync(db, resource=resource, action="test_clock", actor=TEST_CLOCK, method="test.clock",
                    after={c: v.isoformat() for c, v in columns.items()})


def flat_readings(meter_kw: dict[int, float], start_unix_s: int, days: int,
                  windows: list[tuple[int, int, dict[int, float]]] = ()) -> ReadingColumns:
    """15-minute readings of constant demand per meter, with `windows` [(start, end, {meter: kW})]
    replacing it inside [start, end)."""
    times = start_unix_s + INTERVAL_S * np.arange(1, days * 86400 // INTERVAL_S + 1)  # interval ends
    ids = np.repeat(np.array(list(meter_kw), dtype=np.int64), len(times))
    t = np.tile(times, len(meter_kw))
    kw = np.repeat(np.array(list(meter_kw.values()), dtype=float), len(times))
    for lo, hi, during in windows:
        for meter, value in during.items():
            kw[(ids == meter) & (t > lo) & (t <= hi)] = value
    v, pf = np.full(len(t), 232.0), np.full(len(t), 0.95)
    return from_arrays(meter_ids=ids, reading_times_unix_s=t, consumption_kwh=kw * INTERVAL_S / 3600, demand_kw=kw,
                       voltage_v=v, current_a=kw * 1000 / (v * pf), power_factor=pf)
