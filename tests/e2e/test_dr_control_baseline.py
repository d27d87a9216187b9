"""MeasureDemandResponseEvent's control-group baseline through the running mesh, against 10 of 10.

Region "NT" (no other test's): 10 enrolled customers and 35 who are not, all on flat loads that
every day d of five weeks from 3 November 2025 scale by the same "weather" factor (0.8-1.2), which the
event day (a hot Friday) raises to 1.6. In the event window (07:00-09:00 UTC, 17:00-19:00 in NEM
time) the participants drop to 0.4 kW: their counterfactual is 1.6 kW each, 16 kW in all, exactly.
The 35 outside the event live through the same hot day, so the control-group baseline finds the
16 kW; 10 of 10 looks at the cooler days before and stays low, its same-day adjustment capped.
A region whose customers are all in the event has no control group: FAILED_PRECONDITION.
"""

import datetime as dt

import grpc
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from meters.customer.v1 import customer_pb2, customer_service_pb2 as pb, customer_service_pb2_grpc
from meters.customer.v1 import demand_response_event_pb2 as dpb
from meters.deadlines import CALL_S
from meters.ingest.v1 import meter_pb2
from meters.ingest_client import register_meters, stream_readings
from tests.e2e.lifecycle import flat_readings
from tests.grpc_helpers import rich_details, wait_for

pytestmark = pytest.mark.infra
FIRST_METER = 8_500_001  # clear of the other e2e tests (test_recommendation_lifecycle: 8_400_001)
# A Monday. Before test_recommendation_lifecycle's February 2026: segmentation bills the latest
# complete month of any customer's usage, so this module's customers must not end after its.
DAY0 = int(dt.datetime(2025, 11, 3, tzinfo=dt.timezone.utc).timestamp())
DAYS = 33
EVENT_DAY = 32  # Friday 5 December
EVENT_START = DAY0 + EVENT_DAY * 86400 + 7 * 3600
PARTICIPANTS, CONTROLS = 10, 35
HOT, DURING_KW = 1.6, 0.4


def factor(day: int) -> float:
    return HOT if day == EVENT_DAY else 1.0 + 0.2 * ((day * 7) % 5 - 2) / 2


@pytest.fixture(scope="module")
def stub(all_services):
    with all_services.channel("customer") as ch:
        yield customer_service_pb2_grpc.CustomerServiceStub(ch)


def load(all_services, stub, ingest_channel, region: str, first: int, enrolled: int, others: int) -> None:
    meters = [first + i for i in range(enrolled + others)]
    register_meters(ingest_channel, [meter_pb2.Meter(meter_id=m, meter_number=f"DRCB-{m}", transformer_id=1)
                                     for m in meters])
    stub.BatchCreateCustomers(pb.BatchCreateCustomersRequest(customers=[
        customer_pb2.Customer(account_number=f"DR-CONTROL-{m}", region=region, demand_response_opted_in=i < enrolled,
                              meter_ids=[m]) for i, m in enumerate(meters)]), timeout=CALL_S)
    days = [(DAY0 + d * 86400, DAY0 + (d + 1) * 86400, {m: factor(d) for m in meters}) for d in range(DAYS)]
    event = [(EVENT_START, EVENT_START + 7200, {m: DURING_KW for m in meters[:enrolled]})]
    cols = flat_readings({m: 1.0 for m in meters}, DAY0, DAYS, days + event)
    assert stream_readings(ingest_channel, [cols], timeout_s=CALL_S).summary.accepted == len(cols)
    folded = "SELECT sum(bit_count(slots::bit(32))) FROM customers.hourly_usage WHERE meter_id BETWEEN %s AND %s"
    with psycopg.connect(all_services.pg_dsn, autocommit=True) as db:
        assert wait_for(lambda: db.execute(folded, [meters[0], meters[-1]]).fetchone()[0] == len(cols))


def past_event(stub, region: str, key: str) -> str:
    return stub.CreateDemandResponseEvent(pb.CreateDemandResponseEventRequest(
        demand_response_event=dpb.DemandResponseEvent(
            event_type=dpb.DEMAND_RESPONSE_EVENT_TYPE_PEAK_REDUCTION, start_time=Timestamp(seconds=EVENT_START),
            end_time=Timestamp(seconds=EVENT_START + 7200), target_reduction_mw=0.000001, region=region),
        request_id=key), timeout=CALL_S).demand_response_event.name


def measure(stub, name: str, method) -> dpb.DemandResponseMeasurement:
    return stub.MeasureDemandResponseEvent(pb.MeasureDemandResponseEventRequest(name=name, baseline_method=method),
                                           timeout=CALL_S).demand_response_event.measurement


def test_the_control_group_finds_the_hot_day_baseline_ten_of_ten_misses(all_services, stub, ingest_channel, db):
    load(all_services, stub, ingest_channel, "NT", FIRST_METER, PARTICIPANTS, CONTROLS)
    name = past_event(stub, "NT", "dr-control-nt")
    counterfactual_mw = PARTICIPANTS * HOT / 1000

    own = measure(stub, name, pb.DEMAND_RESPONSE_BASELINE_METHOD_TEN_OF_TEN)
    assert own.baseline_method.startswith("high 10 of 10")
    assert own.baseline_demand_mw < 0.85 * counterfactual_mw  # cooler days, adjustment capped at 20 %

    control = measure(stub, name, pb.DEMAND_RESPONSE_BASELINE_METHOD_CONTROL_GROUP)
    assert control.baseline_demand_mw == pytest.approx(counterfactual_mw, rel=1e-3)
    assert control.actual_demand_mw == pytest.approx(PARTICIPANTS * DURING_KW / 1000, rel=1e-6)
    assert control.baseline_method.startswith(f"control group of {CONTROLS} customers")
    per = db.execute("SELECT sum(baseline_kw), sum(reduction_kwh) FROM customers.demand_response_participants "
                     "WHERE event_id = %s", [int(name.split("/")[1])]).fetchone()
    assert per[0] / 1000 == pytest.approx(control.baseline_demand_mw, rel=1e-6)  # settlement adds up to it
    assert per[1] == pytest.approx(PARTICIPANTS * (HOT - DURING_KW) * 2, rel=1e-3)


def test_no_control_group_is_a_failed_precondition(all_services, stub, ingest_channel):
    load(all_services, stub, ingest_channel, "NTX", FIRST_METER + 100, 5, 0)  # everyone is in the event
    name = past_event(stub, "NTX", "dr-control-ntx")
    with pytest.raises(grpc.RpcError) as err:
        measure(stub, name, pb.DEMAND_RESPONSE_BASELINE_METHOD_CONTROL_GROUP)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rich_details(err.value)["ErrorInfo"].reason == "CONTROL_GROUP_TOO_SMALL", err.value.details()
    assert measure(stub, name, pb.DEMAND_RESPONSE_BASELINE_METHOD_TEN_OF_TEN).baseline_demand_mw > 0  # the default still works
