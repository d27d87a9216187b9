"""The VEE job on stored data, on a mesh of the test's own (real Kafka, PostgreSQL, ingest and its
writer): a gap gets flagged substitutes through the ingest path, each recorded as an edit; a second
run changes nothing; the actuals arriving later replace the substitutes, recorded too."""

import asyncio
import time

import numpy as np
import psycopg
import pytest

from ingest_svc.config import IngestSettings
from ingest_svc.vee_run import run_once
from meters.ingest_client import register_meters, stream_readings
from tests.e2e.own_stack import own_mesh
from tests.e2e.readings import meters, readings

pytestmark = pytest.mark.infra
METER = 500
DAYS = 3
GAP = slice(-40, -36)  # four intervals, ten hours before the last reading


def wait_for(dsn: str, sql: str, params, expected, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            got = conn.execute(sql, params).fetchall()
            if got == expected or time.monotonic() > deadline:
                return got
            time.sleep(0.3)


def test_a_gap_is_substituted_recorded_and_replaced_by_the_actuals():
    with own_mesh("vee", "ingest", "ingest-writer") as (stack, mesh), mesh.channel("ingest") as channel:
        register_meters(channel, meters(METER, 1))
        cols = readings(METER, 1, DAYS * 96)
        keep = np.ones(len(cols), bool)
        keep[GAP] = False
        gap_times = cols.reading_times_unix_s[GAP].tolist()
        stream_readings(channel, [cols.take(keep)])
        stored = "SELECT count(*) FROM meters.meter_readings WHERE meter_id = %s"
        assert wait_for(stack.pg_dsn, stored, [METER], [(keep.sum(),)]) == [(keep.sum(),)]

        settings = IngestSettings(pg_dsn=stack.pg_dsn, kafka_bootstrap=stack.kafka_bootstrap)
        window = (int(cols.reading_times_unix_s[0]), int(cols.reading_times_unix_s[-1]) + 1)
        summary = asyncio.run(run_once(settings, *window))
        assert summary.meters == 1 and summary.substitutes["gap"] == len(gap_times)

        subs = ("SELECT extract(epoch FROM reading_time)::bigint, quality FROM meters.meter_readings"
                " WHERE meter_id = %s AND quality <> 'A' ORDER BY 1")
        flagged = "SELECT count(*) FROM meters.meter_readings WHERE meter_id = %s AND quality <> 'A'"
        assert wait_for(stack.pg_dsn, flagged, [METER], [(len(gap_times),)]) == [(len(gap_times),)]
        got = wait_for(stack.pg_dsn, subs, [METER], None, 0)
        assert [t for t, _ in got] == gap_times and {q for _, q in got} <= {"S", "E"}  # the method's letter
        edits = "SELECT count(*), count(before_kwh), min(rule) FROM meters.reading_edits WHERE meter_id = %s"
        assert wait_for(stack.pg_dsn, edits, [METER], [(4, 0, "vee/gap")]) == [(4, 0, "vee/gap")]

        again = asyncio.run(run_once(settings, *window))  # substitutes are left alone: nothing new
        assert sum(again.substitutes.values()) == 0

        stream_readings(channel, [cols.take(~keep)])  # the actuals arrive late
        assert wait_for(stack.pg_dsn, subs, [METER], []) == []
        by_rule = ("SELECT rule, count(*), count(before_kwh), min(before_quality) FROM meters.reading_edits"
                   " WHERE meter_id = %s GROUP BY rule ORDER BY rule")
        replaced = [("stream", 4, 4, "S"), ("vee/gap", 4, 0, None)]
        got = wait_for(stack.pg_dsn, by_rule, [METER], replaced)
        assert [r[:3] for r in got] == [r[:3] for r in replaced] and got[0][3][0] in "SE"
        with psycopg.connect(stack.pg_dsn) as conn:
            values = conn.execute("SELECT consumption_kwh FROM meters.meter_readings WHERE meter_id = %s AND"
                                  " reading_time = ANY(SELECT to_timestamp(unnest(%s::bigint[]))) ORDER BY reading_time",
                                  [METER, gap_times]).fetchall()
        assert np.allclose([v for (v,) in values], cols.consumption_kwh[GAP])
