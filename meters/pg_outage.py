"""PostgreSQL crashed under a steady ingest stream and started again after a while, measured: for the
fault test (tests/e2e/test_postgres_outage.py) and its benchmark (bench/pg_outage.py).

While the database is down ingest keeps publishing to Kafka and the writer retries; the figures say
how many readings were acknowledged meanwhile, how soon after the restart the writer had stored
everything acknowledged until then (the backlog), and, per reading time, what is stored against
what was acknowledged.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import psycopg

from meters.ingest_feed import Feed
from meters.ingest_load import slot_time
from meters.localstack.postgres import LocalPostgres


@dataclass
class Outage:
    down_s: float  # from the SIGKILL until PostgreSQL accepted connections again (crash recovery included)
    acknowledged: int  # readings acknowledged by ingest in all
    during: int  # of them, acknowledged while PostgreSQL was down
    backlog: int  # readings acknowledged before the restart
    pending: int  # of them not yet stored at the restart (those of the outage, and any before it not yet written)
    backlog_stored: int  # of them stored when the wait ended
    catch_up_s: float  # from the restart until the backlog was stored
    expected: dict[int, int]  # reading time -> readings acknowledged
    stored: dict[int, int]  # reading time -> readings stored
    rejected_rows: int  # rows in rejected_readings (re-sends with other values would land there)
    errors: list[tuple[str, list[int]]]  # failed ingest calls
    while_down: object = None  # what the caller's `while_down` returned, called mid-outage

    @property
    def lost(self) -> int:
        return sum(max(0, n - self.stored.get(t, 0)) for t, n in self.expected.items())

    @property
    def duplicated(self) -> int:
        """Rows beyond those acknowledged, and conflicting re-sends kept."""
        return sum(max(0, n - self.expected.get(t, 0)) for t, n in self.stored.items()) + self.rejected_rows


def _wait_count(db, sql: str, params: list, expected: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while (count := db.execute(sql, params).fetchone()[0]) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def through_outage(ch: grpc.Channel, postgres: LocalPostgres, dsn: str, first_meter_id: int, meters: int,
                   outage_s: float, before_s: float = 3, after_s: float = 2, timeout_s: float = 300,
                   while_down: Callable[[], object] | None = None) -> Outage:
    """Feed `meters` readings per batch; SIGKILL PostgreSQL, start it again after `outage_s`; count.
    `while_down` (e.g. a call that needs the database) runs once, 5 s into the outage."""
    feed = Feed(ch, first_meter_id, meters, end_unix_s=int(time.time())).start()
    try:
        time.sleep(before_s)  # some batches stored before the crash
        postgres.kill()
        killed = time.monotonic()
        seen_down = None
        if while_down is not None:
            time.sleep(5)
            seen_down = while_down()
        time.sleep(max(0.0, outage_s - (time.monotonic() - killed)))
        postgres.start()  # crash recovery, then accepting connections
        restarted = time.monotonic()
        before = feed.batches_between(0, restarted)  # batches 0 .. len-1: one thread sends them in order
        with psycopg.connect(dsn, autocommit=True) as db:
            pending = len(before) * meters - db.execute("SELECT count(*) FROM meters.meter_readings").fetchone()[0]
            backlog = _wait_count(db, "SELECT count(*) FROM meters.meter_readings WHERE reading_time >= to_timestamp(%s)",
                                  [slot_time(feed.end_unix_s, len(before) - 1)], len(before) * meters, timeout_s)
            caught_up = time.monotonic()
            time.sleep(after_s)  # and a few batches after it
            feed.stop()
            expected = feed.expected_per_slot()
            _wait_count(db, "SELECT count(*) FROM meters.meter_readings", [], sum(expected.values()), timeout_s)
            stored = dict(db.execute("SELECT extract(epoch FROM reading_time)::int8, count(*)"
                                     " FROM meters.meter_readings GROUP BY 1").fetchall())
            rejected = db.execute("SELECT count(*) FROM meters.rejected_readings").fetchone()[0]
    finally:
        feed.stop()
    during = len(feed.batches_between(killed, restarted)) * meters
    return Outage(restarted - killed, len(feed.acknowledged) * meters, during, len(before) * meters, pending, backlog,
                  caught_up - restarted, expected, stored, rejected, feed.errors, seen_down)
