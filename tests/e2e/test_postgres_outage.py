"""PostgreSQL crashes (SIGKILL of the postmaster and every backend) during a steady stream of readings
and stays down for a minute before it is started again (crash recovery from the WAL):

- ingest keeps accepting: every call of the stream succeeds, those during the outage included
  (readings go to Kafka; ingest needs PostgreSQL only for meter registration and reads);
- the writer is not restarted by anyone: it retries until the database is back and catches up;
- every acknowledged reading is stored exactly once (per-slot counts equal the acknowledged batches),
  nothing is kept as a duplicate or refused, nothing else is stored.

The PostgreSQL killed is this test's own (own_mesh: its own Kafka, PostgreSQL and mesh), never the
shared stack's.
"""

import time

import psycopg
import pytest

from meters.ingest_client import register_meters
from meters.ingest_feed import Feed
from meters.ingest_load import slot_time
from tests.e2e.metrics import metric
from tests.e2e.own_stack import own_mesh
from tests.e2e.readings import meters
from tests.e2e.test_ingest import wait_for_count

pytestmark = pytest.mark.infra

FIRST, METERS = 1, 500
OUTAGE_S = 60


def test_postgres_down_for_a_minute_loses_and_duplicates_nothing():
    with own_mesh("pg-outage", "ingest", "ingest-writer") as (stack, mesh), mesh.channel("ingest") as ch:
        register_meters(ch, meters(FIRST, METERS))
        feed = Feed(ch, FIRST, METERS, end_unix_s=int(time.time()))
        feed.start()
        time.sleep(3)  # some batches stored before the crash

        stack.postgres.kill()
        killed = time.monotonic()
        time.sleep(OUTAGE_S)
        stack.postgres.start()  # crash recovery, then accepting connections
        restarted = time.monotonic()
        before = feed.batches_between(0, restarted)  # batches 0 .. len-1: one thread sends them in order
        with psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
            backlog = wait_for_count(db, "SELECT count(*) FROM meters.meter_readings WHERE reading_time"
                                     " >= to_timestamp(%s)", [slot_time(feed.end_unix_s, len(before) - 1)],
                                     len(before) * METERS, timeout_s=300)
            caught_up = time.monotonic()  # the backlog of the outage is stored
            time.sleep(2)  # and a few batches after it
            feed.stop()

            assert not feed.errors, feed.errors[:3]
            assert backlog == len(before) * METERS, mesh.log_tail("ingest-writer")
            during = feed.batches_between(killed, restarted)
            assert len(during) > 0, "no call was acknowledged while PostgreSQL was down"
            expected = feed.expected_per_slot()
            total = wait_for_count(db, "SELECT count(*) FROM meters.meter_readings", [], sum(expected.values()),
                                   timeout_s=300)
            assert total == sum(expected.values()), mesh.log_tail("ingest-writer")
            stored = dict(db.execute("SELECT extract(epoch FROM reading_time)::int8, count(*)"
                                     " FROM meters.meter_readings GROUP BY 1").fetchall())
            assert stored == expected  # every acknowledged batch whole, once, and nothing else
            assert db.execute("SELECT count(*) FROM meters.rejected_readings").fetchone()[0] == 0
        assert mesh.procs["ingest-writer"].poll() is None, "the writer exited"
        restarts = metric(mesh, "ingest-writer", "meters_writer_restarts_total")
        assert restarts >= 1  # it did see the database go away
        print(f"\npg outage: down {restarted - killed:.1f} s; {len(feed.acknowledged) * METERS} readings acknowledged,"
              f" {len(during) * METERS} while PostgreSQL was down; backlog of {len(before) * METERS} stored"
              f" {caught_up - restarted:.1f} s after the restart; writer restarts {restarts:.0f}; lost 0, duplicated 0")
