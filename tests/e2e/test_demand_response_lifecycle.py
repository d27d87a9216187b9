"""The demand response lifecycle through the running mesh, over gRPC and REST: an event is scheduled,
participants opt out (and back in), it is dispatched (the list locks), measured against each
participant's baseline once it has ended, and settled: each participant credited its measured
reduction x the configured AUD/kWh rate, nothing for a negative one, once. Bad transitions answer
FAILED_PRECONDITION, change no row and leave only their refused attempt in the audit trail.

Five customers of their own region ("ACT", no other test's) on flat 1 kW loads, streamed through
ingest and Kafka into customer_svc's hourly usage for 12 days of February 2026; on the event windows
(07:00-09:00 UTC on the 12th and the 13th) customer 0 drops to 0.2 kW, 1 rises to 1.5 kW, 2 drops
to 0.5 kW and 3 (who opts out) to 0. A baseline of flat days is 1 kW, so the reductions are exact:
1.6, -1.0 and 1.0 kWh over the two hours.
An event must be dispatched before it ends and measured after: the test schedules events in the
future, then moves their window onto the streamed days (shift_times: "time passes", recorded in the
audit trail by system:test-clock).
"""

import datetime as dt

import grpc
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from customer_svc.dr_lifecycle import credit_rate_aud_per_kwh
from meters.customer.v1 import customer_pb2, customer_service_pb2 as pb, customer_service_pb2_grpc
from meters.customer.v1 import demand_response_event_pb2 as dpb
from meters.deadlines import CALL_S
from meters.ingest.v1 import meter_pb2
from meters.ingest_client import register_meters, stream_readings
from tests.e2e.lifecycle import audit_outcomes, flat_readings, refused_unchanged, rows, shift_times
from tests.grpc_helpers import wait_for

pytestmark = pytest.mark.infra
FIRST_METER = 8_300_001
REGION = "ACT"
DAY0 = int(dt.datetime(2026, 2, 2, tzinfo=dt.timezone.utc).timestamp())  # a Monday
DAYS = 12
EVENT_DAYS = (10, 11)  # Thursday 12th, Friday 13th
EVENT_HOURS = (7, 9)
DURING = {0: 0.2, 1: 1.5, 2: 0.5, 3: 0.0}  # customer index -> kW in the event window
REDUCTION_KWH = {0: 1.6, 1: -1.0, 2: 1.0}
S = dpb.DemandResponseEventStatus


def window(day: int) -> tuple[int, int]:
    start = DAY0 + day * 86400 + EVENT_HOURS[0] * 3600
    return start, DAY0 + day * 86400 + EVENT_HOURS[1] * 3600


@pytest.fixture(scope="module")
def stub(all_services):
    with all_services.channel("customer") as ch:
        yield customer_service_pb2_grpc.CustomerServiceStub(ch)


@pytest.fixture(scope="module")
def customers(all_services, stub, ingest_channel):
    """Hashes of the five customers (0-3 enrolled, 4 not), their usage folded into hourly usage."""
    meters = [FIRST_METER + i for i in range(5)]
    register_meters(ingest_channel, [meter_pb2.Meter(meter_id=m, meter_number=f"DRLC-{m}", transformer_id=1)
                                     for m in meters])
    stub.BatchCreateCustomers(pb.BatchCreateCustomersRequest(customers=[
        customer_pb2.Customer(account_number=f"DR-LIFECYCLE-{i}", region=REGION, demand_response_opted_in=i < 4,
                              meter_ids=[m]) for i, m in enumerate(meters)]), timeout=CALL_S)
    cols = flat_readings({m: 1.0 for m in meters}, DAY0, DAYS,
                         [(*window(d), {meters[i]: kw for i, kw in DURING.items()}) for d in EVENT_DAYS])
    assert stream_readings(ingest_channel, [cols], timeout_s=CALL_S).summary.accepted == len(cols)
    folded = "SELECT sum(bit_count(slots::bit(32))) FROM customers.hourly_usage WHERE meter_id BETWEEN %s AND %s"
    with psycopg.connect(all_services.pg_dsn, autocommit=True) as db:
        assert wait_for(lambda: db.execute(folded, [meters[0], meters[-1]]).fetchone()[0] == len(cols))
    return [all_services.pii_digest(f"DR-LIFECYCLE-{i}") for i in range(5)]


def future_event(stub, key: str) -> dpb.DemandResponseEvent:
    start = int(dt.datetime.now(dt.timezone.utc).timestamp()) // 3600 * 3600 + 2 * 86400
    return stub.CreateDemandResponseEvent(pb.CreateDemandResponseEventRequest(
        demand_response_event=dpb.DemandResponseEvent(
            event_type=dpb.DEMAND_RESPONSE_EVENT_TYPE_PEAK_REDUCTION, start_time=Timestamp(seconds=start),
            end_time=Timestamp(seconds=start + 7200), target_reduction_mw=0.000001, region=REGION),
        request_id=key), timeout=CALL_S).demand_response_event


def event_id(name: str) -> int:
    return int(name.split("/")[1])


def move_onto(db, name: str, day: int) -> None:
    start, end = window(day)
    utc = dt.timezone.utc
    shift_times(db, "customers.demand_response_events", {
        "start_time": dt.datetime.fromtimestamp(start, utc), "end_time": dt.datetime.fromtimestamp(end, utc)},
        "id = %s", [event_id(name)], name)


def state(db, name: str) -> tuple[list, list, list]:
    """What a refused transition must leave alone: the event row, its participants, its OK audit events."""
    eid = event_id(name)
    return (rows(db, "SELECT * FROM customers.demand_response_events WHERE id = %s", [eid]),
            rows(db, "SELECT * FROM customers.demand_response_participants WHERE event_id = %s ORDER BY customer_id",
                 [eid]),
            [e for e in audit_outcomes(db, name) if e[1] == "OK"])


def refused(db, name: str, call, request, reason: str) -> str:
    return refused_unchanged(db, name, lambda: state(db, name), call, request, reason)


def participants(stub, name: str) -> dict[str, dpb.DemandResponseParticipant]:
    listed = stub.ListDemandResponseParticipants(pb.ListDemandResponseParticipantsRequest(parent=name, page_size=2),
                                                 timeout=CALL_S)
    got = list(listed.participants)
    while listed.next_page_token:
        listed = stub.ListDemandResponseParticipants(pb.ListDemandResponseParticipantsRequest(
            parent=name, page_size=2, page_token=listed.next_page_token), timeout=CALL_S)
        got += listed.participants
    return {p.customer.removeprefix("customers/"): p for p in got}


def test_dispatch_opt_in_and_out_and_cancel_over_grpc(stub, customers, db):
    event = future_event(stub, "dr-lifecycle-cancel")
    assert event.status == S.Value("DEMAND_RESPONSE_EVENT_STATUS_SCHEDULED") and event.customers_targeted == 4
    name, (c0, _c1, _c2, c3, c4) = event.name, customers

    opted = stub.OptOutDemandResponseEvent(pb.OptOutDemandResponseEventRequest(name=name, customer=f"customers/{c3}"),
                                           timeout=CALL_S).participant
    assert opted.opted_out and opted.name == f"{name}/participants/{c3}"
    refused(db, name, stub.OptOutDemandResponseEvent,
            pb.OptOutDemandResponseEventRequest(name=name, customer=f"customers/{c3}"), "NOT_A_PARTICIPANT")
    assert not stub.OptInDemandResponseEvent(pb.OptInDemandResponseEventRequest(
        name=name, customer=f"customers/{c3}"), timeout=CALL_S).participant.opted_out  # changed its mind
    refused(db, name, stub.OptInDemandResponseEvent,
            pb.OptInDemandResponseEventRequest(name=name, customer=f"customers/{c0}"), "ALREADY_PARTICIPATING")
    # Not enrolled in the program: no opt-in until enrolled.
    refused(db, name, stub.OptInDemandResponseEvent,
            pb.OptInDemandResponseEventRequest(name=name, customer=f"customers/{c4}"), "NOT_ENROLLED")
    enrolled = stub.SetDemandResponseEnrolment(pb.SetDemandResponseEnrolmentRequest(
        name=f"customers/{c4}", enrolled=True), timeout=CALL_S).customer
    assert enrolled.demand_response_opted_in
    stub.OptInDemandResponseEvent(pb.OptInDemandResponseEventRequest(name=name, customer=f"customers/{c4}"),
                                  timeout=CALL_S)
    # Out of the program again: later events do not invite it, this one keeps it.
    assert not stub.SetDemandResponseEnrolment(pb.SetDemandResponseEnrolmentRequest(
        name=f"customers/{c4}", enrolled=False), timeout=CALL_S).customer.demand_response_opted_in
    assert [a for a, _ in audit_outcomes(db, f"customers/{c4}")] == ["enrol", "unenrol"]
    assert stub.GetDemandResponseEvent(pb.GetDemandResponseEventRequest(name=name),
                                       timeout=CALL_S).demand_response_event.customers_targeted == 5

    refused(db, name, stub.SettleDemandResponseEvent, pb.SettleDemandResponseEventRequest(name=name),
            "EVENT_NOT_MEASURED")
    refused(db, name, stub.MeasureDemandResponseEvent, pb.MeasureDemandResponseEventRequest(name=name),
            "EVENT_NOT_ENDED")
    dispatched = stub.DispatchDemandResponseEvent(pb.DispatchDemandResponseEventRequest(name=name),
                                                  timeout=CALL_S).demand_response_event
    assert dispatched.status == S.Value("DEMAND_RESPONSE_EVENT_STATUS_DISPATCHED") and dispatched.HasField("dispatch_time")
    refused(db, name, stub.DispatchDemandResponseEvent, pb.DispatchDemandResponseEventRequest(name=name),
            "EVENT_ALREADY_DISPATCHED")
    stub.OptOutDemandResponseEvent(pb.OptOutDemandResponseEventRequest(name=name, customer=f"customers/{c3}"),
                                   timeout=CALL_S)  # opt-outs stay open until the start
    refused(db, name, stub.OptInDemandResponseEvent,  # the list is locked
            pb.OptInDemandResponseEventRequest(name=name, customer=f"customers/{c3}"), "PARTICIPANTS_LOCKED")

    cancelled = stub.CancelDemandResponseEvent(pb.CancelDemandResponseEventRequest(name=name, reason="forecast eased"),
                                               timeout=CALL_S).demand_response_event
    assert cancelled.status == S.Value("DEMAND_RESPONSE_EVENT_STATUS_CANCELLED") and cancelled.HasField("cancel_time")
    for call, request in ((stub.DispatchDemandResponseEvent, pb.DispatchDemandResponseEventRequest(name=name)),
                          (stub.CancelDemandResponseEvent, pb.CancelDemandResponseEventRequest(name=name)),
                          (stub.SettleDemandResponseEvent, pb.SettleDemandResponseEventRequest(name=name)),
                          (stub.OptInDemandResponseEvent,
                           pb.OptInDemandResponseEventRequest(name=name, customer=f"customers/{c3}")),
                          (stub.OptOutDemandResponseEvent,
                           pb.OptOutDemandResponseEventRequest(name=name, customer=f"customers/{c0}"))):
        assert "cancelled" in refused(db, name, call, request, "EVENT_CANCELLED")
    move_onto(db, name, EVENT_DAYS[0])  # a cancelled event is not measured, even once it is over
    refused(db, name, stub.MeasureDemandResponseEvent, pb.MeasureDemandResponseEventRequest(name=name),
            "EVENT_CANCELLED")
    ok = [a for a, outcome in audit_outcomes(db, name) if outcome == "OK"]
    assert ok == ["create", "opt_out", "opt_in", "opt_in", "dispatch", "opt_out", "cancel", "test_clock"]


def test_measure_and_settle_over_grpc(stub, customers, db):
    event = future_event(stub, "dr-lifecycle-settle-grpc")
    name, c3 = event.name, customers[3]
    stub.OptOutDemandResponseEvent(pb.OptOutDemandResponseEventRequest(name=name, customer=f"customers/{c3}"),
                                   timeout=CALL_S)
    stub.DispatchDemandResponseEvent(pb.DispatchDemandResponseEventRequest(name=name), timeout=CALL_S)
    move_onto(db, name, EVENT_DAYS[0])
    assert stub.GetDemandResponseEvent(pb.GetDemandResponseEventRequest(name=name), timeout=CALL_S) \
        .demand_response_event.status == S.Value("DEMAND_RESPONSE_EVENT_STATUS_COMPLETED")
    refused(db, name, stub.OptOutDemandResponseEvent,
            pb.OptOutDemandResponseEventRequest(name=name, customer=f"customers/{customers[0]}"), "EVENT_STARTED")
    refused(db, name, stub.DispatchDemandResponseEvent, pb.DispatchDemandResponseEventRequest(name=name),
            "EVENT_ALREADY_DISPATCHED")
    refused(db, name, stub.SettleDemandResponseEvent, pb.SettleDemandResponseEventRequest(name=name),
            "EVENT_NOT_MEASURED")

    measured = stub.MeasureDemandResponseEvent(pb.MeasureDemandResponseEventRequest(name=name, baseline_days=5),
                                               timeout=CALL_S).demand_response_event
    assert measured.status == S.Value("DEMAND_RESPONSE_EVENT_STATUS_MEASURED")
    assert measured.customers_participated == 2 and measured.customers_opted_out == 1  # 0 and 2 reduced
    assert measured.measurement.reduction_mw == pytest.approx((0.8 - 0.5 + 0.5) / 1000)

    settled = stub.SettleDemandResponseEvent(pb.SettleDemandResponseEventRequest(name=name),
                                             timeout=CALL_S).demand_response_event
    assert_settled(settled, participants(stub, name), customers)
    refused(db, name, stub.SettleDemandResponseEvent, pb.SettleDemandResponseEventRequest(name=name),
            "EVENT_ALREADY_SETTLED")
    refused(db, name, stub.CancelDemandResponseEvent, pb.CancelDemandResponseEventRequest(name=name),
            "EVENT_SETTLED")
    refused(db, name, stub.MeasureDemandResponseEvent, pb.MeasureDemandResponseEventRequest(name=name),
            "EVENT_SETTLED")
    assert [a for a, outcome in audit_outcomes(db, name) if outcome == "OK"] == [
        "create", "opt_out", "dispatch", "test_clock", "measure", "settle"]


def assert_settled(settled: dpb.DemandResponseEvent, got: dict, customers: list[str]) -> None:
    rate = credit_rate_aud_per_kwh()
    assert settled.status == S.Value("DEMAND_RESPONSE_EVENT_STATUS_SETTLED")
    assert settled.settlement.credit_aud_per_kwh == rate > 0
    assert settled.settlement.total_credit_aud == pytest.approx((1.6 + 1.0) * rate)
    assert settled.settlement.customers_credited == 2
    assert set(got) == set(customers[:4])  # the customer enrolled later was not invited
    for i, kwh in REDUCTION_KWH.items():
        p = got[customers[i]]
        assert p.measured and not p.opted_out and p.reduction_kwh == pytest.approx(kwh, abs=1e-9)
        assert p.credit_aud == pytest.approx(max(kwh, 0) * rate, abs=1e-9)
        assert p.baseline_kw == pytest.approx(1.0)
    out = got[customers[3]]
    assert out.opted_out and not out.measured and out.credit_aud == 0  # used nothing, yet opted out: no credit


def test_the_lifecycle_over_rest(gateway, stub, customers, db):
    start = int(dt.datetime.now(dt.timezone.utc).timestamp()) // 3600 * 3600 + 3 * 86400
    status, body = gateway.call("/api/v1/demandResponseEvents", "POST", {
        "event_type": "DEMAND_RESPONSE_EVENT_TYPE_EMERGENCY", "region": REGION, "target_reduction_mw": 0.000001,
        "start_time": Timestamp(seconds=start).ToJsonString(), "end_time": Timestamp(seconds=start + 7200).ToJsonString()})
    assert status == 200, body
    name = body["demand_response_event"]["name"]
    c3 = customers[3]
    status, body = gateway.call(f"/api/v1/{name}:optOut", "POST", {"customer": f"customers/{c3}"})
    assert status == 200 and body["participant"]["opted_out"], body
    status, body = gateway.call(f"/api/v1/{name}:settle", "POST", {})
    assert status == 400 and body["code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0], body
    assert "not measured" in body["message"]
    status, body = gateway.call(f"/api/v1/{name}:dispatch", "POST", {})
    assert status == 200 and body["demand_response_event"]["status"] == "DEMAND_RESPONSE_EVENT_STATUS_DISPATCHED", body
    status, body = gateway.call(f"/api/v1/{name}:optIn", "POST", {"customer": f"customers/{c3}"})
    assert status == 400 and body["details"][0]["reason"] == "PARTICIPANTS_LOCKED", body

    move_onto(db, name, EVENT_DAYS[1])
    status, body = gateway.call(f"/api/v1/{name}:measure", "POST", {"baseline_days": 5})
    assert status == 200 and body["demand_response_event"]["status"] == "DEMAND_RESPONSE_EVENT_STATUS_MEASURED", body
    status, body = gateway.call(f"/api/v1/{name}:settle", "POST", {})
    assert status == 200, body
    settled = body["demand_response_event"]
    before = state(db, name)
    for verb, reason in (("settle", "EVENT_ALREADY_SETTLED"), ("cancel", "EVENT_SETTLED")):
        status, body = gateway.call(f"/api/v1/{name}:{verb}", "POST", {})
        assert status == 400 and body["details"][0]["reason"] == reason, body
    assert state(db, name) == before
    status, body = gateway.call(f"/api/v1/{name}/participants?page_size=10")
    assert status == 200, body
    got = {p["customer"].removeprefix("customers/"): p for p in body["participants"]}
    assert got[customers[0]]["reduction_kwh"] == pytest.approx(1.6)
    assert got[customers[1]]["credit_aud"] == 0 and got[c3]["opted_out"]
    assert settled["settlement"]["total_credit_aud"] == pytest.approx(2.6 * credit_rate_aud_per_kwh())
    # Enrolment, and an opt-in to a cancelled event, over REST.
    status, body = gateway.call(f"/api/v1/customers/{customers[4]}:setDemandResponseEnrolment", "POST",
                                {"enrolled": True})
    assert status == 200 and body["customer"]["demand_response_opted_in"], body
    status, body = gateway.call("/api/v1/demandResponseEvents", "POST", {
        "event_type": "DEMAND_RESPONSE_EVENT_TYPE_PRICE_RESPONSE", "region": REGION,
        "start_time": Timestamp(seconds=start + 86400).ToJsonString(),
        "end_time": Timestamp(seconds=start + 86400 + 3600).ToJsonString()})
    called_off = body["demand_response_event"]["name"]
    assert int(body["demand_response_event"]["customers_targeted"]) == 5, body  # int64: a JSON string
    status, body = gateway.call(f"/api/v1/{called_off}:cancel", "POST", {"reason": "price fell"})
    assert status == 200 and body["demand_response_event"]["status"] == "DEMAND_RESPONSE_EVENT_STATUS_CANCELLED"
    cancelled = state(db, called_off)
    for verb, payload in (("optIn", {"customer": f"customers/{customers[4]}"}), ("dispatch", {}), ("settle", {})):
        status, body = gateway.call(f"/api/v1/{called_off}:{verb}", "POST", payload)
        assert status == 400 and body["details"][0]["reason"] == "EVENT_CANCELLED", body
    assert state(db, called_off) == cancelled
    status, body = gateway.call(f"/api/v1/customers/{customers[4]}:setDemandResponseEnrolment", "POST",
                                {"enrolled": False})
    assert status == 200 and not body["customer"]["demand_response_opted_in"], body
    # The settled event over gRPC.
    assert_settled(stub.GetDemandResponseEvent(pb.GetDemandResponseEventRequest(name=name),
                                               timeout=CALL_S).demand_response_event, participants(stub, name), customers)
