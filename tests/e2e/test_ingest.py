"""Ingest end to end: gRPC -> ingest_svc -> Kafka -> writer -> PostgreSQL."""

import threading
import time
import urllib.request

import grpc
import numpy as np
import pytest

from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest.v1.reading_pb2 import RejectionReason as R
from meters.ingest_client import register_meters, stream_readings
from meters.readings import ReadingColumns, to_batch
from tests.e2e.readings import meters, readings
from tests.grpc_helpers import rich_details

pytestmark = pytest.mark.infra


def wait_for_count(db, sql: str, params, expected: int, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        count = db.execute(sql, params).fetchone()[0]
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def stored(db, first_id: int, last_id: int, expected: int) -> int:
    return wait_for_count(
        db, "SELECT count(*) FROM meters.meter_readings WHERE meter_id BETWEEN %s AND %s",
        [first_id, last_id], expected,
    )



def test_streamed_readings_are_stored_and_read_back(ingest_channel, db, mesh):
    register_meters(ingest_channel, meters(1000, 20))
    cols = readings(1000, 20, 96)
    reply = stream_readings(ingest_channel, [cols], batch_size=500)
    assert reply.summary.accepted == len(cols) and reply.summary.rejected == 0
    assert reply.batches == (len(cols) + 499) // 500
    assert stored(db, 1000, 1019, len(cols)) == len(cols)

    stub = ingest_service_pb2_grpc.IngestServiceStub(ingest_channel)
    meter = stub.GetMeter(pb.GetMeterRequest(name="meters/1005")).meter
    # The meter number is held as its keyed hash (meters/security/pii.py), never raw.
    assert meter.reading_count == 96 and meter.meter_number == mesh.pii_digest("TEST-1005") != "TEST-1005"
    page = stub.ListReadings(pb.ListReadingsRequest(parent="meters/1005", page_size=50))
    rest = stub.ListReadings(pb.ListReadingsRequest(parent="meters/1005", page_size=50,
                                                     page_token=page.next_page_token))
    got = [r.reading_time_unix_s for r in [*page.readings, *rest.readings]]
    mine = cols.reading_times_unix_s[cols.meter_ids == 1005]
    assert got == sorted(mine.tolist()) and rest.next_page_token == ""
    first = page.readings[0]
    i = int(np.flatnonzero((cols.meter_ids == 1005) & (cols.reading_times_unix_s == first.reading_time_unix_s))[0])
    assert first.voltage_v == pytest.approx(cols.voltage_v[i]) and first.power_factor == pytest.approx(cols.power_factor[i])

    listed = stub.ListMeters(pb.ListMetersRequest(page_size=7))
    assert len(listed.meters) == 7 and listed.next_page_token


def test_bad_readings_are_rejected_with_reasons_and_kept(ingest_channel, db):
    register_meters(ingest_channel, meters(2000, 5))
    cols = readings(2000, 5, 8)
    n = len(cols)
    cols.voltage_v[0] = 310.0
    cols.power_factor[1] = 1.4
    cols.consumption_kwh[2] = -0.2
    cols.current_a[3] = np.nan
    cols.meter_ids[4] = 999_999  # not registered
    cols.reading_times_unix_s[5] = int(time.time()) + 7 * 86400
    cols.voltage_v[6] = 195.0  # accepted, flagged
    cols.reading_times_unix_s[7] = 1  # older than the retention window: no 1970 partition for it
    reply = stream_readings(ingest_channel, [cols])
    reasons = {R.Name(rc.reason): rc.count for rc in reply.summary.rejections}
    assert reasons == {
        "REJECTION_REASON_VOLTAGE_OUT_OF_RANGE": 1, "REJECTION_REASON_POWER_FACTOR_OUT_OF_RANGE": 1,
        "REJECTION_REASON_NEGATIVE_CONSUMPTION": 1, "REJECTION_REASON_MISSING_VALUE": 1,
        "REJECTION_REASON_UNKNOWN_METER": 1, "REJECTION_REASON_FUTURE_TIMESTAMP": 1,
        "REJECTION_REASON_TOO_OLD": 1,
    }
    assert reply.summary.accepted == n - 7 and reply.summary.voltage_warnings == 1
    assert stored(db, 2000, 2004, n - 7) == n - 7
    kept = wait_for_count(
        db, "SELECT count(*) FROM meters.rejected_readings WHERE meter_id BETWEEN 2000 AND 2004 OR meter_id = %s",
        [999_999], 7,
    )
    assert kept == 7
    assert db.execute("SELECT to_regclass('meters.meter_readings_19700101')").fetchone()[0] is None
    detail = db.execute(
        "SELECT detail FROM meters.rejected_readings WHERE reason = 'REJECTION_REASON_VOLTAGE_OUT_OF_RANGE'"
        " AND meter_id = 2000"
    ).fetchone()[0]
    assert "310" in detail
    flag = db.execute(
        "SELECT quality_flag FROM meters.readings WHERE meter_id = %s AND reading_time = to_timestamp(%s)",
        [int(cols.meter_ids[6]), int(cols.reading_times_unix_s[6])],
    ).fetchone()[0]
    assert flag == "voltage_warning"


def test_malformed_batch_is_invalid_argument_with_field_details(ingest_channel, db):
    register_meters(ingest_channel, meters(3000, 2))
    good = to_batch(readings(3000, 2, 4))
    bad = to_batch(readings(3000, 2, 4, seed=1))
    del bad.voltage_v[-1]
    stub = ingest_service_pb2_grpc.IngestServiceStub(ingest_channel)
    with pytest.raises(grpc.RpcError) as err:
        stub.StreamReadings(iter([pb.StreamReadingsRequest(batch=good), pb.StreamReadingsRequest(batch=bad)]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = rich_details(err.value)
    assert details["ErrorInfo"].reason == "MALFORMED_BATCH"
    fields = [v.field for v in details["BadRequest"].field_violations]
    assert fields == ["requests[1].batch.voltage_v"]
    # The batch before the malformed one was accepted: it is stored, not lost.
    assert stored(db, 3000, 3001, 8) == 8


@pytest.mark.parametrize("call, request_, code", [
    ("GetMeter", pb.GetMeterRequest(name="meters/123456789"), grpc.StatusCode.NOT_FOUND),
    ("GetMeter", pb.GetMeterRequest(name="transformers/1"), grpc.StatusCode.INVALID_ARGUMENT),
    ("ListMeters", pb.ListMetersRequest(page_token="garbage"), grpc.StatusCode.INVALID_ARGUMENT),
    ("ListReadings", pb.ListReadingsRequest(parent="meters/x"), grpc.StatusCode.INVALID_ARGUMENT),
    ("BatchCreateMeters", pb.BatchCreateMetersRequest(meters=[{"meter_id": -1}]), grpc.StatusCode.INVALID_ARGUMENT),
])
def test_bad_requests_get_clear_status_codes(ingest_channel, call, request_, code):
    stub = ingest_service_pb2_grpc.IngestServiceStub(ingest_channel)
    with pytest.raises(grpc.RpcError) as err:
        getattr(stub, call)(request_)
    assert err.value.code() == code
    assert rich_details(err.value)["ErrorInfo"].reason


def test_resent_readings_are_not_duplicated_and_conflicts_are_kept(ingest_channel, db):
    register_meters(ingest_channel, meters(4000, 3))
    cols = readings(4000, 3, 10)
    stream_readings(ingest_channel, [cols])
    assert stored(db, 4000, 4002, 30) == 30
    changed = ReadingColumns(*(a.copy() for a in cols.__dict__.values()))
    changed.consumption_kwh[:5] += 1.0
    stream_readings(ingest_channel, [cols, changed])  # 30 identical re-sends, 5 conflicting values
    conflicts = wait_for_count(
        db, "SELECT count(*) FROM meters.rejected_readings WHERE meter_id BETWEEN 4000 AND 4002"
        " AND reason = 'REJECTION_REASON_DUPLICATE_READING'", [], 5,
    )
    assert conflicts == 5
    assert db.execute("SELECT count(*) FROM meters.meter_readings WHERE meter_id BETWEEN 4000 AND 4002").fetchone()[0] == 30


def test_writer_killed_mid_stream_loses_and_duplicates_nothing(mesh, ingest_channel, db):
    first, count, intervals = 10_000, 400, 96
    register_meters(ingest_channel, meters(first, count))
    cols = readings(first, count, intervals, seed=3)
    chunks = [cols.take(slice(s, s + 3840)) for s in range(0, len(cols), 3840)]
    result = {}
    sender = threading.Thread(target=lambda: result.update(reply=stream_readings(ingest_channel, chunks, 1000)))
    sender.start()
    kills = 0
    for _ in range(3):
        now = stored(db, first, first + count - 1, 1)  # wait for the writer to be mid-way
        if now >= len(cols):
            break
        mesh.kill("ingest-writer")
        kills += 1
        time.sleep(0.5)
        mesh.start("ingest-writer")
        stored(db, first, first + count - 1, now + 1)
    sender.join()
    assert result["reply"].summary.accepted == len(cols)
    assert kills >= 1
    assert stored(db, first, first + count - 1, len(cols)) == len(cols)
    distinct = db.execute(
        "SELECT count(DISTINCT (meter_id, reading_time)) FROM meters.meter_readings WHERE meter_id BETWEEN %s AND %s",
        [first, first + count - 1],
    ).fetchone()[0]
    assert distinct == len(cols)


def test_ingest_runs_the_retention_job(mesh):
    """The job is a background task of the ingest server: its first round runs at start-up."""
    url = f"http://127.0.0.1:{mesh.metrics_port('ingest')}/metrics"
    deadline = time.monotonic() + 60
    while True:
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        last = [line for line in text.splitlines() if line.startswith("meters_retention_last_success_timestamp_seconds ")]
        if (last and float(last[0].split()[1]) > 0) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert last and float(last[0].split()[1]) > 0
