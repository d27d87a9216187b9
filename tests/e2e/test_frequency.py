"""Power frequency end to end: gRPC -> ingest_svc -> Kafka -> writer -> PostgreSQL -> ListReadings."""

import math

import numpy as np
import pytest

from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest.v1.reading_pb2 import RejectionReason as R
from meters.ingest_client import register_meters, stream_readings
from meters.readings import from_arrays
from tests.e2e.readings import meters, readings
from tests.e2e.test_ingest import stored, wait_for_count

pytestmark = pytest.mark.infra


def _with_frequency(cols, hz):
    return from_arrays(**{name: getattr(cols, name) for name in (
        "meter_ids", "reading_times_unix_s", "consumption_kwh", "demand_kw", "voltage_v", "current_a",
        "power_factor")}, frequency_hz=hz)


def test_frequency_is_validated_stored_and_read_back(ingest_channel, db):
    register_meters(ingest_channel, meters(14_000, 4))
    base = readings(14_000, 4, 6)
    n = len(base)
    hz = np.random.default_rng(3).normal(50.0, 0.025, n).round(2)
    hz[0] = 49.62  # a generator trip's dip: accepted, flagged
    hz[1] = np.nan  # this reading does not report it
    hz[2] = 72.0  # no 50 Hz meter measures that: rejected
    hz[3] = 50.31  # above the normal band: flagged
    cols = _with_frequency(base, hz)
    reply = stream_readings(ingest_channel, [cols])
    assert {R.Name(rc.reason): rc.count for rc in reply.summary.rejections} == {
        "REJECTION_REASON_FREQUENCY_OUT_OF_RANGE": 1}
    assert reply.summary.accepted == n - 1 and reply.summary.frequency_warnings == 2
    assert stored(db, 14_000, 14_003, n - 1) == n - 1

    rows = dict(db.execute(
        "SELECT extract(epoch FROM reading_time)::bigint * 100000 + meter_id, frequency_hz FROM meters.meter_readings"
        " WHERE meter_id BETWEEN 14000 AND 14003").fetchall())
    for i in range(n):
        if i == 2:
            continue
        got = rows[int(cols.reading_times_unix_s[i]) * 100_000 + int(cols.meter_ids[i])]
        assert (math.isnan(got) and math.isnan(hz[i])) or got == hz[i]
    flags = dict(db.execute(
        "SELECT meter_id * 10000000000 + extract(epoch FROM reading_time)::bigint, quality_flag FROM meters.readings"
        " WHERE meter_id BETWEEN 14000 AND 14003").fetchall())
    key = lambda i: int(cols.meter_ids[i]) * 10_000_000_000 + int(cols.reading_times_unix_s[i])  # noqa: E731
    assert (flags[key(0)], flags[key(1)], flags[key(3)]) == ("frequency_warning", "normal", "frequency_warning")
    assert sum(f == "frequency_warning" for f in flags.values()) == 2

    assert wait_for_count(db, "SELECT count(*) FROM meters.rejected_readings WHERE meter_id = 14000"
                              " AND reason = 'REJECTION_REASON_FREQUENCY_OUT_OF_RANGE'", [], 1) == 1
    detail, kept = db.execute("SELECT detail, frequency_hz FROM meters.rejected_readings WHERE meter_id = 14000"
                              " AND reason = 'REJECTION_REASON_FREQUENCY_OUT_OF_RANGE'").fetchone()
    assert detail == "frequency 72.0 Hz outside 45-65 Hz" and kept == 72.0

    stub = ingest_service_pb2_grpc.IngestServiceStub(ingest_channel)
    listed = stub.ListReadings(pb.ListReadingsRequest(parent="meters/14000", page_size=10)).readings
    mine = np.flatnonzero(cols.meter_ids == 14000)
    expected = {int(cols.reading_times_unix_s[i]): hz[i] for i in mine if i != 2}
    assert len(listed) == len(expected)
    for r in listed:
        want = expected[r.reading_time_unix_s]
        assert (math.isnan(r.frequency_hz) and math.isnan(want)) or r.frequency_hz == want


def test_a_client_without_the_column_still_ingests_as_not_reported(ingest_channel, db):
    register_meters(ingest_channel, meters(14_100, 2))
    cols = readings(14_100, 2, 4)  # no frequency_hz at all: an empty column on the wire
    reply = stream_readings(ingest_channel, [cols])
    assert reply.summary.accepted == len(cols) and reply.summary.frequency_warnings == 0
    assert stored(db, 14_100, 14_101, len(cols)) == len(cols)
    assert db.execute("SELECT count(*) FROM meters.readings WHERE meter_id BETWEEN 14100 AND 14101"
                      " AND frequency_hz IS NULL").fetchone()[0] == len(cols)
