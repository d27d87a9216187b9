"""Meter events end to end: gRPC and REST -> ingest_svc -> Kafka -> writer -> PostgreSQL, bad events kept
with their reasons, resends stored once, a killed writer losing and duplicating nothing."""

import threading
import time

import pytest

from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest.v1.meter_event_pb2 import MeterEvent, MeterEventBatch, MeterEventType as T
from meters.ingest.v1.reading_pb2 import RejectionReason as R
from meters.ingest_client import register_meters
from tests.e2e.readings import meters

pytestmark = pytest.mark.infra

NOW_MS = int(time.time() * 1000)


def wait_for(db, sql: str, params, expected: int, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    while (count := db.execute(sql, params).fetchone()[0]) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def stored(db, prefix: str, expected: int) -> int:
    return wait_for(db, "SELECT count(*) FROM meters.meter_events WHERE event_id LIKE %s", [prefix + "%"], expected)


def rejected(db, prefix: str, expected: int) -> dict[str, int]:
    wait_for(db, "SELECT count(*) FROM meters.rejected_meter_events WHERE event_id LIKE %s", [prefix + "%"], expected)
    rows = db.execute("SELECT reason, count(*) FROM meters.rejected_meter_events WHERE event_id LIKE %s GROUP BY 1",
                      [prefix + "%"]).fetchall()
    return {reason: n for reason, n in rows}


def gasps(prefix: str, first_meter: int, count: int, t_ms: int = NOW_MS - 60_000) -> list[MeterEvent]:
    return [MeterEvent(event_id=f"{prefix}{i}", meter_id=first_meter + i, type=T.METER_EVENT_TYPE_POWER_OFF,
                       event_time_unix_ms=t_ms + i) for i in range(count)]


def stream(channel, batches: list[list[MeterEvent]]) -> pb.StreamMeterEventsResponse:
    stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
    return stub.StreamMeterEvents(iter([pb.StreamMeterEventsRequest(batch=MeterEventBatch(events=b)) for b in batches]),
                                  timeout=60)


def test_streamed_events_are_stored_and_listed(ingest_channel, db):
    register_meters(ingest_channel, meters(20_000, 10))
    events = gasps("ok-", 20_000, 10) + [MeterEvent(
        event_id="ok-restore", meter_id=20_003, type=T.METER_EVENT_TYPE_POWER_ON, event_time_unix_ms=NOW_MS - 1000,
        detail="supply restored")]
    reply = stream(ingest_channel, [events[:6], events[6:]])
    assert (reply.summary.accepted, reply.summary.rejected, reply.batches) == (11, 0, 2)
    assert stored(db, "ok-", 11) == 11

    stub = ingest_service_pb2_grpc.IngestServiceStub(ingest_channel)
    page = stub.ListMeterEvents(pb.ListMeterEventsRequest(parent="meters/20003", page_size=1))
    rest = stub.ListMeterEvents(pb.ListMeterEventsRequest(parent="meters/20003", page_token=page.next_page_token))
    got = [(e.event_id, e.type, e.event_time_unix_ms, e.detail) for e in [*page.events, *rest.events]]
    assert got == [("ok-3", T.METER_EVENT_TYPE_POWER_OFF, NOW_MS - 60_000 + 3, ""),
                   ("ok-restore", T.METER_EVENT_TYPE_POWER_ON, NOW_MS - 1000, "supply restored")]
    assert rest.next_page_token == ""


def test_bad_events_are_kept_with_their_reasons(ingest_channel, db):
    register_meters(ingest_channel, meters(20_100, 3))
    good = gasps("bad-", 20_100, 3)
    events = good + [
        MeterEvent(event_id="bad-unknown-meter", meter_id=99_999_999, type=T.METER_EVENT_TYPE_TAMPER,
                   event_time_unix_ms=NOW_MS),
        MeterEvent(event_id="bad-future", meter_id=20_100, type=T.METER_EVENT_TYPE_COVER_OPEN,
                   event_time_unix_ms=NOW_MS + 86_400_000),
        MeterEvent(event_id="bad-type", meter_id=20_101, type=42, event_time_unix_ms=NOW_MS),
        MeterEvent(event_id="", meter_id=20_101, type=T.METER_EVENT_TYPE_TAMPER, event_time_unix_ms=NOW_MS),
        MeterEvent(event_id="bad-0", meter_id=20_100, type=T.METER_EVENT_TYPE_POWER_OFF,
                   event_time_unix_ms=good[0].event_time_unix_ms),  # repeats an id of this request
    ]
    reply = stream(ingest_channel, [events])
    counts = {r.reason: r.count for r in reply.summary.rejections}
    assert reply.summary.accepted == 3 and counts == {
        R.REJECTION_REASON_UNKNOWN_METER: 1, R.REJECTION_REASON_FUTURE_TIMESTAMP: 1,
        R.REJECTION_REASON_UNKNOWN_EVENT_TYPE: 1, R.REJECTION_REASON_MISSING_VALUE: 1,
        R.REJECTION_REASON_DUPLICATE_EVENT: 1}
    assert stored(db, "bad-", 3) == 3
    # The id-less event is kept too (its event_id is ''), with the others.
    kept = rejected(db, "bad-", 4)
    assert kept == {"REJECTION_REASON_UNKNOWN_METER": 1, "REJECTION_REASON_FUTURE_TIMESTAMP": 1,
                    "REJECTION_REASON_UNKNOWN_EVENT_TYPE": 1, "REJECTION_REASON_DUPLICATE_EVENT": 1}
    missing = db.execute("SELECT detail FROM meters.rejected_meter_events WHERE event_id = '' AND meter_id = 20101"
                         " AND reason = 'REJECTION_REASON_MISSING_VALUE'").fetchall()
    assert missing == [("missing: event_id",)]

    # A resend of stored events (the head-end retried) adds no event: each is kept as DUPLICATE_EVENT.
    again = stream(ingest_channel, [good])
    assert again.summary.accepted == 3
    assert rejected(db, "bad-", 7)["REJECTION_REASON_DUPLICATE_EVENT"] == 4
    assert stored(db, "bad-", 3) == 3 and db.execute(
        "SELECT count(*) FROM meters.meter_events WHERE event_id LIKE 'bad-%'").fetchone()[0] == 3


def test_an_event_id_is_unique_per_meter(ingest_channel, db):
    """Dedup is per (meter_id, event_id) (docs/decisions.md 27): two meters' events with one id are two events,
    in one request or in two; the same meter's event sent again is a DUPLICATE_EVENT."""
    register_meters(ingest_channel, meters(20_300, 3))
    one = [MeterEvent(event_id="same-1", meter_id=m, type=T.METER_EVENT_TYPE_POWER_OFF, event_time_unix_ms=NOW_MS - 9000)
           for m in (20_300, 20_301)]
    reply = stream(ingest_channel, [one + [one[0]]])
    assert (reply.summary.accepted, reply.summary.rejected) == (2, 1)
    later = MeterEvent(event_id="same-1", meter_id=20_302, type=T.METER_EVENT_TYPE_POWER_OFF,
                       event_time_unix_ms=NOW_MS - 9000)
    assert stream(ingest_channel, [[later, one[1]]]).summary.accepted == 2
    assert stored(db, "same-", 3) == 3
    assert rejected(db, "same-", 2) == {"REJECTION_REASON_DUPLICATE_EVENT": 2}
    assert db.execute("SELECT array_agg(meter_id ORDER BY meter_id) FROM meters.meter_events WHERE event_id = 'same-1'"
                      ).fetchone()[0] == [20_300, 20_301, 20_302]


def test_events_through_rest(gateway, all_services, db):
    with all_services.channel("ingest") as ch:
        register_meters(ch, meters(20_200, 2))
    body = {"batch": {"events": [{"eventId": "rest-1", "meterId": "20200", "type": "METER_EVENT_TYPE_POWER_OFF",
                                  "eventTimeUnixMs": str(NOW_MS - 5000)},
                                 {"eventId": "rest-2", "meterId": "1", "type": "METER_EVENT_TYPE_POWER_OFF",
                                  "eventTimeUnixMs": str(NOW_MS - 5000)}]}}
    status, reply = gateway.call("/api/v1/meterEvents:ingest", "POST", body)
    assert status == 200, reply
    assert reply["summary"]["accepted"] == "1" and reply["summary"]["rejected"] == "1"
    assert stored(db, "rest-", 1) == 1
    status, listed = gateway.call("/api/v1/meters/20200/events")
    assert status == 200 and [e["event_id"] for e in listed["events"]] == ["rest-1"]


def test_event_writer_killed_mid_stream_loses_and_duplicates_nothing(mesh, ingest_channel, db):
    first, count, per_meter = 21_000, 500, 40
    register_meters(ingest_channel, meters(first, count))
    batches = [[MeterEvent(event_id=f"writer-kill-{m}-{k}", meter_id=first + m,  # test_outages has "kill-" ids
                           type=T.METER_EVENT_TYPE_CLOCK_ERROR,
                           event_time_unix_ms=NOW_MS - 3_600_000 + k * 1000, detail=f"offset {k} s")
                for m in range(count)] for k in range(per_meter)]
    total = count * per_meter
    result = {}
    sender = threading.Thread(target=lambda: result.update(reply=stream(ingest_channel, batches)))
    sender.start()
    kills = 0
    for _ in range(3):
        now = stored(db, "writer-kill-", 1)
        if now >= total:
            break
        mesh.kill("ingest-writer")
        kills += 1
        time.sleep(0.5)
        mesh.start("ingest-writer")
        stored(db, "writer-kill-", now + 1)
    sender.join()
    assert result["reply"].summary.accepted == total and kills >= 1
    assert stored(db, "writer-kill-", total) == total
    # A replay of its own messages after the kill is not a resend: nothing is kept as a duplicate.
    assert db.execute("SELECT count(*) FROM meters.rejected_meter_events WHERE event_id LIKE 'writer-kill-%'").fetchone()[0] == 0
