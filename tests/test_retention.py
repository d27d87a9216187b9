"""Retention on real PostgreSQL: the writer keeps no reading outside the window and makes no partition
for one; the retention job drops exactly the daily partitions past the window, with their rows, and
keeps today's, the edge's and everything newer."""

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from prometheus_client import REGISTRY

from ingest_svc.reading_sink import ReadingRows, ReadingSink, RejectedRow
from ingest_svc.validation import Limits
from ingest_svc.writer import MIGRATIONS
from meters.db import migrate
from meters.partitions import DailyPartitions
from meters.readings import from_arrays
from meters.retention import RetentionJob
from meters.retention_window import RetentionWindow
import scoring_svc.store
from scoring_svc.store import PredictionRow, insert_predictions, upsert_prediction

pytestmark = pytest.mark.infra

DAY_S = 86_400
NOW = 1_796_000_000  # 2026-11-30 00:53:20 UTC: the 24-month edge is 2024-11-30 00:53:20
EDGE_DAY = date(2024, 11, 30)
WINDOW = RetentionWindow(24)
TABLES = ["meters.meter_readings", "meters.rejected_readings"]


def rows_at(times, first_meter: int = 1, received_s: int = NOW) -> ReadingRows:
    n = len(times)
    cols = from_arrays(meter_ids=np.arange(first_meter, first_meter + n), reading_times_unix_s=np.asarray(times),
                       consumption_kwh=np.full(n, 0.25), demand_kw=np.ones(n), voltage_v=np.full(n, 230.0),
                       current_a=np.full(n, 4.3), power_factor=np.full(n, 0.95))
    return ReadingRows(cols, np.ones(n, np.int16), np.zeros(n, np.int32), np.full(n, first_meter, np.int64),
                       np.arange(n, dtype=np.int32), np.full(n, received_s * 1000, np.int64))


def rejected_at(received_s: int, offset: int) -> RejectedRow:
    return RejectedRow(7, received_s, (-1.0, 1.0, 230.0, 1.0, 0.9, float("nan")), "REJECTION_REASON_NEGATIVE_CONSUMPTION",
                       "consumption -1.0 kWh is negative", received_s * 1000, "meter-readings-rejected", 0, offset)


def partitions_of(conn, table: str) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        [table]).fetchall()}


def count(conn, sql: str, params=None) -> int:
    return conn.execute(sql, params).fetchone()[0]


@pytest.fixture
def db(fresh_db):
    migrate(fresh_db, MIGRATIONS)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        yield fresh_db, conn


async def write(dsn: str, sink: ReadingSink, rows: ReadingRows | None, rejected=()) -> int:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        return await sink.write(conn, rows, list(rejected))


async def test_writer_refuses_a_reading_at_one_second_and_makes_no_partition_for_it(db):
    dsn, conn = db
    sink = ReadingSink(Limits(), clock=lambda: NOW)
    stored = await write(dsn, sink, rows_at([1, NOW - 900, NOW + 86_400]))
    assert stored == 1
    assert partitions_of(conn, "meters.meter_readings") == {"meter_readings_20261130"}
    kept = conn.execute("SELECT meter_id, extract(epoch FROM reading_time)::bigint, reason, detail, row_index"
                        " FROM meters.rejected_readings ORDER BY meter_id").fetchall()
    assert [(m, t, r, i) for m, t, r, _, i in kept] == [
        (1, 1, "REJECTION_REASON_TOO_OLD", 0), (3, NOW + 86_400, "REJECTION_REASON_FUTURE_TIMESTAMP", 2)]
    assert kept[0][3].startswith("refused by the writer: ") and "24-month" in kept[0][3]
    # The message replayed (a crash before the offset commit) adds nothing twice.
    assert await write(dsn, ReadingSink(Limits(), clock=lambda: NOW), rows_at([1, NOW - 900, NOW + 86_400])) == 0
    assert count(conn, "SELECT count(*) FROM meters.rejected_readings") == 2
    assert count(conn, "SELECT count(*) FROM meters.meter_readings") == 1


async def test_writer_refuses_readings_before_the_oldest_date(db):
    dsn, conn = db
    limits = Limits(window=RetentionWindow(24, oldest_date=date(2026, 11, 1)))
    assert await write(dsn, ReadingSink(limits, clock=lambda: NOW), rows_at([NOW - 40 * DAY_S, NOW - 10 * DAY_S])) == 1
    assert count(conn, "SELECT count(*) FROM meters.rejected_readings WHERE reason = 'REJECTION_REASON_BEFORE_OLDEST_DATE'"
                       " AND meter_id = 1") == 1
    assert partitions_of(conn, "meters.meter_readings") == {"meter_readings_20261120"}


async def test_job_drops_exactly_the_partitions_past_the_window_with_their_rows(db):
    dsn, conn = db
    # Readings written 30 and 25 months ago through the writer's own partition path, its clock set back.
    for months_ago, first in ((30, 100), (25, 200)):
        then = NOW - months_ago * 30 * DAY_S
        sink = ReadingSink(Limits(), clock=lambda then=then: then)
        assert await write(dsn, sink, rows_at([then - 900, then - 1800], first, then),
                           [rejected_at(then, first)]) == 2
    sink = ReadingSink(Limits(), clock=lambda: NOW)
    assert await write(dsn, sink, rows_at([NOW - 900, NOW - 30 * DAY_S], 300), [rejected_at(NOW, 300)]) == 2
    # The edge's day, the day before it and the day before that, made directly.
    edge_days = [EDGE_DAY - timedelta(days=d) for d in (0, 1, 2)]
    async with await psycopg.AsyncConnection.connect(dsn) as aconn:
        for table in TABLES:
            await DailyPartitions(table).ensure(aconn, edge_days)
    conn.execute("INSERT INTO meters.meter_readings VALUES (400, '2024-11-28 12:00+00', 1, 1, 230, 1, 1, 1),"
                 " (401, '2024-11-29 23:59:59+00', 1, 1, 230, 1, 1, 1), (402, '2024-11-30 00:00+00', 1, 1, 230, 1, 1, 1)")
    readings_before = partitions_of(conn, "meters.meter_readings")
    rejected_before = partitions_of(conn, "meters.rejected_readings")
    dropped_before = REGISTRY.get_sample_value("meters_retention_partitions_dropped_total",
                                               {"table": "meters.meter_readings"}) or 0

    dropped = await RetentionJob(dsn, TABLES, WINDOW).run_once(now_s=NOW)

    gone = {"meter_readings_20240613", "meter_readings_20241110", "meter_readings_20241128"}
    gone_rejected = {"rejected_readings_20240613", "rejected_readings_20241110", "rejected_readings_20241128"}
    assert {d.partition.name for d in dropped} == gone | gone_rejected
    assert readings_before - partitions_of(conn, "meters.meter_readings") == gone
    assert rejected_before - partitions_of(conn, "meters.rejected_readings") == gone_rejected
    assert partitions_of(conn, "meters.meter_readings") >= {
        "meter_readings_20241129", "meter_readings_20241130", "meter_readings_20261130", "meter_readings_20261031"}
    assert {d.partition.name: d.rows for d in dropped if d.rows} == {
        "meter_readings_20240613": 2, "meter_readings_20241110": 2, "meter_readings_20241128": 1,
        "rejected_readings_20240613": 1, "rejected_readings_20241110": 1}
    assert sorted(r[0] for r in conn.execute("SELECT meter_id FROM meters.meter_readings").fetchall()) == [
        300, 301, 401, 402]
    assert [r[0] for r in conn.execute("SELECT meter_id FROM meters.rejected_readings").fetchall()] == [7]
    assert count(conn, "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'meter_readings_2024%'") == 2
    assert REGISTRY.get_sample_value("meters_retention_partitions_dropped_total",
                                     {"table": "meters.meter_readings"}) == dropped_before + 3
    # A second round finds nothing more to drop.
    assert await RetentionJob(dsn, TABLES, WINDOW).run_once(now_s=NOW) == []


async def test_job_finishes_a_detach_interrupted_before_its_drop(db):
    dsn, conn = db
    async with await psycopg.AsyncConnection.connect(dsn) as aconn:
        await DailyPartitions("meters.meter_readings").ensure(aconn, [date(2020, 1, 1), date(2020, 1, 2)])
    conn.execute("INSERT INTO meters.meter_readings VALUES (1, '2020-01-01 06:00+00', 1, 1, 230, 1, 1, 1)")
    # What a job killed between its two steps leaves: a detached table of the partitions' name.
    conn.execute("ALTER TABLE meters.meter_readings DETACH PARTITION meters.meter_readings_20200101")
    dropped = await RetentionJob(dsn, TABLES, WINDOW).run_once(now_s=NOW)
    assert {(d.partition.name, d.partition.state, d.rows) for d in dropped} == {
        ("meter_readings_20200101", "detached", 1), ("meter_readings_20200102", "attached", 0)}
    assert count(conn, "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'meter_readings_2020%'") == 0


async def test_a_drop_and_its_hook_commit_together(db):
    dsn, conn = db
    async with await psycopg.AsyncConnection.connect(dsn) as aconn:
        await DailyPartitions("meters.meter_readings").ensure(aconn, [date(2020, 1, 1)])

    async def failing_record(conn, partition, rows):
        raise RuntimeError("audit write failed")

    with pytest.raises(RuntimeError):
        await RetentionJob(dsn, ["meters.meter_readings"], WINDOW, on_drop=failing_record).run_once(now_s=NOW)
    # Detached but not dropped: the drop rolled back with its record; the next round finishes it.
    assert count(conn, "SELECT count(*) FROM pg_class WHERE relname = 'meter_readings_20200101'") == 1
    seen = []

    async def record(conn, partition, rows):
        seen.append((partition.name, rows, conn.info.transaction_status))

    await RetentionJob(dsn, ["meters.meter_readings"], WINDOW, on_drop=record).run_once(now_s=NOW)
    assert seen == [("meter_readings_20200101", 0, psycopg.pq.TransactionStatus.INTRANS)]
    assert count(conn, "SELECT count(*) FROM pg_class WHERE relname = 'meter_readings_20200101'") == 0


def test_existing_rejected_readings_survive_the_move_to_daily_partitions(fresh_db, tmp_path):
    first = tmp_path / "first"
    first.mkdir()
    shutil.copy(MIGRATIONS / "ingest_0001_meters_schema.sql", first)
    migrate(fresh_db, first)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("""INSERT INTO meters.rejected_readings (meter_id, reading_time, reason, detail, received_at,
                          source_topic, kafka_partition, kafka_offset, row_index)
                        VALUES (1, NULL, 'R', 'd', '2026-01-01 10:00+00', 't', 0, 1, 0),
                               (2, NULL, 'R', 'd', '2026-01-03 10:00+00', 't', 0, 2, 0)""")
        migrate(fresh_db, MIGRATIONS)
        assert partitions_of(conn, "meters.rejected_readings") == {"rejected_readings_20260101",
                                                                    "rejected_readings_20260103"}
        conn.execute("CREATE TABLE meters.rejected_readings_20260104 PARTITION OF meters.rejected_readings"
                     " FOR VALUES FROM ('2026-01-04 00:00+00') TO ('2026-01-05 00:00+00')")
        new_id = conn.execute("""INSERT INTO meters.rejected_readings (meter_id, reason, detail, received_at,
                                   source_topic, kafka_partition, kafka_offset, row_index)
                                 VALUES (3, 'R', 'd', '2026-01-04 10:00+00', 't', 0, 3, 0) RETURNING id""").fetchone()[0]
        assert [r[0] for r in conn.execute("SELECT id FROM meters.rejected_readings ORDER BY id")] == [1, 2, new_id]
        assert new_id == 3
        assert datetime(2026, 1, 1, 10, tzinfo=UTC) == conn.execute(
            "SELECT received_at FROM meters.rejected_readings WHERE id = 1").fetchone()[0]


SCORING_MIGRATIONS = Path(scoring_svc.store.__file__).parent / "migrations"


def prediction(asset_id: int, at: datetime) -> PredictionRow:
    return PredictionRow("smart_meter", asset_id, "reading_anomaly", 0.9, 0.9, True, at, None, "spike", "warning")


async def test_predictions_keep_their_rows_across_the_move_and_old_days_are_dropped(fresh_db, tmp_path):
    first = tmp_path / "first"
    first.mkdir()
    for name in ("scoring_0001_grid_schema.sql", "scoring_0002_ml_schema.sql"):
        shutil.copy(SCORING_MIGRATIONS / name, first)
    migrate(fresh_db, first)
    old, recent = datetime(2024, 3, 1, 12, tzinfo=UTC), datetime(2026, 11, 29, 12, tzinfo=UTC)
    async with await psycopg.AsyncConnection.connect(fresh_db, autocommit=True) as conn:
        assert len(await insert_predictions(conn, [prediction(1, old), prediction(2, recent)])) == 2
        migrate(fresh_db, SCORING_MIGRATIONS)
        # Written after the move: the store creates the day it needs; a replay adds nothing.
        later = [prediction(3, datetime(2024, 5, 1, tzinfo=UTC)), prediction(4, recent)]
        assert len(await insert_predictions(conn, later)) == 2
        assert await insert_predictions(conn, later) == []
        stored = await upsert_prediction(conn, prediction(5, datetime(2026, 11, 28, tzinfo=UTC)))
        assert stored.id > 4  # the id sequence went on where it was (a replay's conflicts use ids too)

        dropped = await RetentionJob(fresh_db, ["ml.predictions"], WINDOW).run_once(now_s=NOW)

        assert {(d.partition.name, d.rows) for d in dropped} == {("predictions_20240301", 1), ("predictions_20240501", 1)}
        cur = await conn.execute("SELECT asset_id, id FROM ml.predictions ORDER BY asset_id")
        assert await cur.fetchall() == [(2, 2), (4, 4), (5, stored.id)]
