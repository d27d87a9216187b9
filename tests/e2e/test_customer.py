"""Customer intelligence end to end: a small synthetic fleet's readings go through ingest and
Kafka into customer_svc's hourly usage (consumer group `customer`); segmentation, recommendations,
the segment distribution and demand response answer over gRPC.

The customer process starts on an empty model registry; a small segmentation model is trained
into it (another fleet seed than the one streamed) before RunSegmentation.
"""

import datetime as dt
import hashlib

import grpc
import numpy as np
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from customer_svc import training
from customer_svc.summary_store import from_bytes
from meters.fleet.weather import hourly_temperature
from meters.customer.v1 import customer_pb2, customer_service_pb2 as pb, customer_service_pb2_grpc
from meters.customer.v1 import demand_response_event_pb2 as dpb, segment_pb2 as spb
from meters.fleet import FleetConfig, generate_topology, iter_reading_chunks
from meters.fleet.config import OutageRates
from meters.fleet.calendar import REGIONS
from meters.ingest.v1 import meter_pb2
from meters.ingest_client import register_meters, stream_readings
from meters.ml_jobs import MlJob
from meters.model_registry import ModelRegistry
from meters.readings import from_arrays
from tests.grpc_helpers import rich_details, wait_for

pytestmark = pytest.mark.infra
METER_OFFSET = 8_000_000  # this module's meters: 8,000,001 ... (fleet ids 1..N shifted)
# No planted supply outages: a storm day on the DR day would leave too few readings to measure it.
CFG = FleetConfig(meters=120, days=14, seed=3, outage_rates=OutageRates(scale=0.0))


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return ModelRegistry(tmp_path_factory.mktemp("customer-registry"))


@pytest.fixture(scope="module")
def stub(mesh, registry):
    with mesh.serving("customer", env={"METERS_MODEL_REGISTRY": str(registry.root)}), mesh.channel("customer") as ch:
        yield customer_service_pb2_grpc.CustomerServiceStub(ch)


@pytest.fixture(scope="module")
def fleet():
    topo = generate_topology(CFG)
    chunks = list(iter_reading_chunks(CFG, topo))
    cols = from_arrays(
        meter_ids=np.concatenate([c.meter_ids for c in chunks]) + METER_OFFSET,
        **{f: np.concatenate([getattr(c, f) for c in chunks]) for f in
           ("reading_times_unix_s", "consumption_kwh", "demand_kw", "voltage_v", "current_a", "power_factor")})
    customers = topo.customers.assign(
        meter_id=topo.meters["meter_id"].to_numpy() + METER_OFFSET,
        region=np.array(REGIONS)[topo.meter_parameters["region"].to_numpy()])
    return customers, cols




def fields(err: grpc.RpcError) -> list[str]:
    return [v.field for v in rich_details(err)["BadRequest"].field_violations]


@pytest.fixture(scope="module")
def loaded(stub, fleet, ingest_channel, mesh):
    """Customers registered, readings streamed through ingest and folded into hourly usage."""
    with psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        customers = _load(stub, fleet, ingest_channel, db)
    # What the service keeps of each account number: its keyed hash, the customer's name.
    return customers.assign(customer_hash=[mesh.pii_digest(a) for a in customers["account_number"]])


def _load(stub, fleet, ingest_channel, db):
    customers, cols = fleet
    register_meters(ingest_channel, [meter_pb2.Meter(meter_id=int(m), meter_number=f"CUST-{m}", transformer_id=1)
                                     for m in customers["meter_id"]])
    reply = stub.BatchCreateCustomers(pb.BatchCreateCustomersRequest(customers=[
        customer_pb2.Customer(account_number=r.account_number, tariff_type=r.tariff_type,
                              solar_installed=bool(r.solar_installed), ev_charging=bool(r.ev_charging),
                              demand_response_opted_in=bool(r.demand_response_opted_in), region=r.region,
                              meter_ids=[int(r.meter_id)])
        for r in customers.itertuples()]))
    assert reply.created == len(customers) and reply.updated == 0
    summary = stream_readings(ingest_channel, [cols], batch_size=2_000).summary
    assert summary.accepted > 0.98 * len(cols)
    lo, hi = METER_OFFSET, METER_OFFSET + CFG.meters + 1
    stored_sql = "SELECT count(*), sum(consumption_kwh) FROM meters.meter_readings WHERE meter_id BETWEEN %s AND %s"
    usage_sql = ("SELECT sum(bit_count(slots::bit(32))), sum(kwh) FROM customers.hourly_usage"
                 " WHERE meter_id BETWEEN %s AND %s")
    assert wait_for(lambda: db.execute(stored_sql, [lo, hi]).fetchone()[0] == summary.accepted)
    assert wait_for(lambda: db.execute(usage_sql, [lo, hi]).fetchone()[0] == summary.accepted), \
        "the customer consumer did not fold every accepted reading"
    stored_kwh = db.execute(stored_sql, [lo, hi]).fetchone()[1]
    usage_kwh = db.execute(usage_sql, [lo, hi]).fetchone()[1]
    assert usage_kwh == pytest.approx(stored_kwh, rel=1e-9)
    return customers


@pytest.fixture(scope="module")
def segmented(stub, loaded, registry, tmp_path_factory):
    training.train(MlJob(registry, tmp_path_factory.mktemp("reports"), quick=True))
    regions, hours, temps = hourly_temperature(CFG)
    stored = stub.RecordRegionalWeather(pb.RecordRegionalWeatherRequest(
        regions=list(regions), hour_start_unix_s=hours.tolist(), temperature_c=temps.tolist())).stored
    assert stored == len(regions)
    run = stub.RunSegmentation(pb.RunSegmentationRequest(usage_days=CFG.days, wait=True)).segmentation_run
    return run


def test_bad_input_and_unknown_names(stub):
    with pytest.raises(grpc.RpcError) as err:
        stub.GetCustomer(pb.GetCustomerRequest(name="nope"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and fields(err.value) == ["name"]
    with pytest.raises(grpc.RpcError) as err:
        stub.GetCustomer(pb.GetCustomerRequest(name="customers/" + "0" * 64))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert rich_details(err.value)["ErrorInfo"].reason == "CUSTOMER_NOT_FOUND"
    with pytest.raises(grpc.RpcError) as err:
        stub.ListRecommendations(pb.ListRecommendationsRequest(parent="customers/" + "f" * 64))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        stub.BatchCreateCustomers(pb.BatchCreateCustomersRequest(customers=[
            customer_pb2.Customer(customer_hash="ok"), customer_pb2.Customer(customer_hash="")]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fields(err.value) == ["customers[1].account_number"]
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateDemandResponseEvent(pb.CreateDemandResponseEventRequest(demand_response_event=dpb.DemandResponseEvent(
            start_time=Timestamp(seconds=2000), end_time=Timestamp(seconds=1000), target_reduction_mw=-1)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(fields(err.value)) == {"demand_response_event.event_type", "demand_response_event.end_time",
                                      "demand_response_event.target_reduction_mw"}
    with pytest.raises(grpc.RpcError) as err:
        stub.RecordRegionalWeather(pb.RecordRegionalWeatherRequest(regions=["NSW"], hour_start_unix_s=[3600, 7200],
                                                                   temperature_c=[float("nan")]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(fields(err.value)) == {"hour_start_unix_s", "temperature_c"}
    with pytest.raises(grpc.RpcError) as err:
        stub.RunSegmentation(pb.RunSegmentationRequest(usage_days=-1))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and fields(err.value) == ["usage_days"]
    for call, request in ((stub.GetSegmentationRun, pb.GetSegmentationRunRequest(name="segmentationRuns/987654")),
                          (stub.GetDemandResponseEvent, pb.GetDemandResponseEventRequest(name="demandResponseEvents/987654"))):
        with pytest.raises(grpc.RpcError) as err:
            call(request)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_account_numbers_are_kept_only_as_keyed_hashes(stub, mesh, db):
    """The service hashes what identifies a customer with the mesh's key: the name is the keyed hash
    of the account number, and neither the number nor its unsalted sha256 is stored or returned."""
    account, older = "AC-PII-0001", "legacy-sha256-caller-" + "9" * 40
    stub.BatchCreateCustomers(pb.BatchCreateCustomersRequest(customers=[
        customer_pb2.Customer(account_number=account, region="VIC"),
        customer_pb2.Customer(customer_hash=older, region="VIC")]))  # an older caller's own "hash"
    got = stub.GetCustomer(pb.GetCustomerRequest(name=f"customers/{mesh.pii_digest(account)}")).customer
    assert got.customer_hash == mesh.pii_digest(account) and got.account_number == "" and got.region == "VIC"
    assert stub.GetCustomer(pb.GetCustomerRequest(name=f"customers/{mesh.pii_digest(older)}")).customer.region == "VIC"
    stored = {h for (h,) in db.execute("SELECT customer_hash FROM customers.customers").fetchall()}
    assert not stored & {account, older, hashlib.sha256(account.encode()).hexdigest()}
    # Re-registering by the name the service returned updates that customer, it does not hash it again.
    reply = stub.BatchCreateCustomers(pb.BatchCreateCustomersRequest(customers=[
        customer_pb2.Customer(customer_hash=got.customer_hash, region="SA")]))
    assert (reply.created, reply.updated) == (0, 1)


def test_segmentation_assigns_every_customer(stub, loaded, segmented):
    assert segmented.status == spb.SEGMENTATION_RUN_STATUS_SUCCEEDED, segmented.error_message
    assert segmented.customers_assigned >= len(loaded) and segmented.model_version
    got = [stub.GetCustomer(pb.GetCustomerRequest(name=f"customers/{h}")).customer for h in loaded["customer_hash"]]
    assert all(c.segment != spb.SEGMENT_UNSPECIFIED for c in got)
    first = got[0]
    assert first.meter_ids == [int(loaded["meter_id"].iloc[0])] and first.mean_daily_kwh > 0
    predicted = np.array([spb.Segment.Name(c.segment).removeprefix("SEGMENT_").lower() for c in got])
    # A loose floor that catches broken wiring (chance is ~0.1); quality is measured by `meters evaluate`.
    assert np.mean(predicted == loaded["segment"].to_numpy()) > 0.5


def test_recommendations_over_grpc(stub, loaded, segmented):
    recs = {h: stub.ListRecommendations(pb.ListRecommendationsRequest(parent=f"customers/{h}")).recommendations
            for h in loaded["customer_hash"]}
    assert sum(len(r) for r in recs.values()) > 0
    every = [r for rs in recs.values() for r in rs]
    assert all(r.title and r.estimated_monthly_savings_aud >= 0 and r.name.startswith("customers/") for r in every)
    h, rs = next((h, rs) for h, rs in recs.items() if rs)
    one_type = stub.ListRecommendations(pb.ListRecommendationsRequest(
        parent=f"customers/{h}", recommendation_type=rs[0].recommendation_type)).recommendations
    assert one_type and all(r.recommendation_type == rs[0].recommendation_type for r in one_type)


def test_segment_distribution(stub, loaded, segmented):
    dist = stub.GetSegmentDistribution(pb.GetSegmentDistributionRequest()).segment_distribution
    assert dist.total_customers >= len(loaded) and len(dist.segments) == 12
    assert sum(s.customer_count for s in dist.segments) == dist.total_customers
    assert dist.segmentation_run == segmented.name
    busy = [s for s in dist.segments if s.customer_count]
    assert busy and all(0 <= s.peak_hour < 24 and s.mean_daily_kwh > 0 for s in busy)
    assert len({s.peak_hour for s in busy}) > 1  # peak hours come from the members' profiles
    nsw = stub.GetSegmentDistribution(pb.GetSegmentDistributionRequest(region="NSW")).segment_distribution
    assert 0 < nsw.total_customers < dist.total_customers


def test_demand_response_event_measured(stub, loaded, segmented, db):
    # 17:00-19:00 NEM time on the fleet's last day: history before it, readings through it.
    start = CFG.start_unix_s + (CFG.days - 1) * 86400 + 17 * 3600
    event = dpb.DemandResponseEvent(
        event_type=dpb.DEMAND_RESPONSE_EVENT_TYPE_PEAK_REDUCTION, start_time=Timestamp(seconds=start),
        end_time=Timestamp(seconds=start + 2 * 3600), target_reduction_mw=0.001)
    created = stub.CreateDemandResponseEvent(pb.CreateDemandResponseEventRequest(
        demand_response_event=event, request_id="e2e-dr-1")).demand_response_event
    again = stub.CreateDemandResponseEvent(pb.CreateDemandResponseEventRequest(
        demand_response_event=event, request_id="e2e-dr-1")).demand_response_event
    assert again.name == created.name
    assert created.customers_targeted >= int(loaded["demand_response_opted_in"].sum()) > 0
    assert created.status == dpb.DEMAND_RESPONSE_EVENT_STATUS_COMPLETED

    measured = stub.MeasureDemandResponseEvent(pb.MeasureDemandResponseEventRequest(
        name=created.name, baseline_days=5)).demand_response_event
    m = measured.measurement
    assert measured.status == dpb.DEMAND_RESPONSE_EVENT_STATUS_MEASURED
    assert m.baseline_demand_mw > 0 and m.actual_demand_mw > 0 and m.reading_coverage > 0.9
    assert m.reduction_mw == pytest.approx(m.baseline_demand_mw - m.actual_demand_mw)
    eid = int(created.name.split("/")[1])
    totals = db.execute("SELECT baseline_mw, actual_mw, measured_at IS NOT NULL FROM customers.demand_response_events"
                        " WHERE id = %s", [eid]).fetchone()
    assert totals[0] == pytest.approx(m.baseline_demand_mw) and totals[2]
    per = db.execute("SELECT count(*), count(baseline_kw), sum(baseline_kw) FROM customers.demand_response_participants"
                     " WHERE event_id = %s", [eid]).fetchone()
    assert per[0] == created.customers_targeted and per[1] > 0
    assert per[2] / 1000 == pytest.approx(m.baseline_demand_mw, rel=1e-6)

    listed = stub.ListDemandResponseEvents(pb.ListDemandResponseEventsRequest(
        status=dpb.DEMAND_RESPONSE_EVENT_STATUS_MEASURED)).demand_response_events
    assert created.name in [e.name for e in listed]
    none = stub.ListDemandResponseEvents(pb.ListDemandResponseEventsRequest(
        status=dpb.DEMAND_RESPONSE_EVENT_STATUS_SCHEDULED)).demand_response_events
    assert created.name not in [e.name for e in none]
    window = stub.ListDemandResponseEvents(pb.ListDemandResponseEventsRequest(
        start_time=Timestamp(seconds=start + 1))).demand_response_events
    assert created.name not in [e.name for e in window]
    first_page = stub.ListDemandResponseEvents(pb.ListDemandResponseEventsRequest(page_size=1))
    assert len(first_page.demand_response_events) == 1
    if first_page.next_page_token:
        stub.ListDemandResponseEvents(pb.ListDemandResponseEventsRequest(page_size=1,
                                                                         page_token=first_page.next_page_token))


def test_other_event_days_are_not_baseline_days(stub, loaded, segmented):
    """The participants' other events are never baseline days: declaring an event on an earlier day of
    the same type changes the first event's baseline (another day takes that day's place)."""
    start = CFG.start_unix_s + (CFG.days - 1) * 86400 + 17 * 3600

    def event(at: int) -> dpb.DemandResponseEvent:
        return dpb.DemandResponseEvent(event_type=dpb.DEMAND_RESPONSE_EVENT_TYPE_PEAK_REDUCTION,
                                       start_time=Timestamp(seconds=at), end_time=Timestamp(seconds=at + 2 * 3600),
                                       target_reduction_mw=0.001)

    def baseline_mw(name: str) -> float:
        return stub.MeasureDemandResponseEvent(pb.MeasureDemandResponseEventRequest(
            name=name, baseline_days=5)).demand_response_event.measurement.baseline_demand_mw

    first = stub.CreateDemandResponseEvent(pb.CreateDemandResponseEventRequest(
        demand_response_event=event(start), request_id="e2e-dr-1")).demand_response_event  # the test above's
    before = baseline_mw(first.name)
    assert baseline_mw(first.name) == pytest.approx(before, rel=1e-12)  # measuring again is deterministic
    stub.CreateDemandResponseEvent(pb.CreateDemandResponseEventRequest(
        demand_response_event=event(start - 86400), request_id="e2e-dr-2"))  # the day before: same participants
    assert baseline_mw(first.name) != pytest.approx(before, rel=1e-6)

def test_month_summaries_are_reused_then_refreshed_by_late_usage(stub, loaded, segmented, db, ingest_channel):
    """A run stores each month's per-customer summary; the next run (a year) reuses it while nothing it
    covers changed (and keeps the recommendations billed from it), and a late reading makes the month
    stale, so the next run summarises it again and renews the recommendations."""
    month_sql = "SELECT version, summarised_version FROM customers.usage_months WHERE month = '2026-01-01'"
    version, summarised = db.execute(month_sql).fetchone()
    assert version == summarised
    meter = int(loaded["meter_id"].iloc[0])
    cid = db.execute("SELECT customer_id FROM customers.customer_meters WHERE meter_id = %s", [meter]).fetchone()[0]
    hours_before = _stored_hours(db, cid)

    segments_sql = "SELECT id, segment_id FROM customers.customers ORDER BY id"
    segments = db.execute(segments_sql).fetchall()
    recs_sql = "SELECT id FROM customers.customer_recommendations ORDER BY id"
    recs = db.execute(recs_sql).fetchall()
    # The default window, a year: January is reused; the twelve months before it hold no usage.
    again = stub.RunSegmentation(pb.RunSegmentationRequest(wait=True)).segmentation_run
    assert again.status == spb.SEGMENTATION_RUN_STATUS_SUCCEEDED and again.usage_days == 365
    assert db.execute(month_sql).fetchone() == (version, summarised)  # reused, not summarised again
    months = db.execute("SELECT count(*) FROM customers.usage_months WHERE version = summarised_version").fetchone()
    assert months[0] == 13
    assert db.execute(segments_sql).fetchall() == segments  # empty months change nobody's segment
    assert db.execute(recs_sql).fetchall() == recs  # January billed again, unchanged: recommendations kept

    # Two readings in the hour after the fleet's last interval (still January): one more hour of data.
    end = CFG.start_unix_s + CFG.days * 86400
    late = from_arrays(meter_ids=[meter, meter], reading_times_unix_s=[end + 900, end + 1800],
                       consumption_kwh=[0.4, 0.5], demand_kw=[0.8, 1.0], voltage_v=[230.0, 231.0],
                       current_a=[3.5, 4.3], power_factor=[0.95, 0.95])
    assert stream_readings(ingest_channel, [late]).summary.accepted == 2
    assert wait_for(lambda: db.execute(month_sql).fetchone()[0] > version), "the late usage did not mark January"
    refreshed = stub.RunSegmentation(pb.RunSegmentationRequest(usage_days=CFG.days, wait=True)).segmentation_run
    assert refreshed.status == spb.SEGMENTATION_RUN_STATUS_SUCCEEDED
    new_version, new_summarised = db.execute(month_sql).fetchone()
    assert new_summarised == new_version > version
    assert _stored_hours(db, cid) == hours_before + 1
    assert db.execute(recs_sql).fetchall() != recs  # January changed: every customer's renewed


def _stored_hours(db, customer_id: int) -> int:
    """Hours with data in the customer's stored January summary."""
    for ids, stats in db.execute("SELECT customer_ids, stats FROM customers.usage_summaries"
                                 " WHERE month = '2026-01-01'", binary=True).fetchall():
        ids = np.frombuffer(ids, dtype="<i8")
        if customer_id in ids:
            return int(from_bytes(stats, len(ids)).hours[list(ids).index(customer_id)].sum())
    raise AssertionError(f"customer {customer_id} has no stored January summary")


def test_registering_customers_marks_only_the_months_of_their_usage(stub, loaded, segmented, db):
    """A customer on new meters changes no month's summary; re-registering one whose meter has usage
    marks the months of that usage (January), not every month on record."""
    versions_sql = "SELECT month, version FROM customers.usage_months ORDER BY month"
    before = dict(db.execute(versions_sql).fetchall())
    assert len(before) >= 13
    stub.BatchCreateCustomers(pb.BatchCreateCustomersRequest(customers=[customer_pb2.Customer(
        account_number="AC-NEW-ON-NEW-METERS", tariff_type="flat", region="NSW", meter_ids=[METER_OFFSET + 10 * CFG.meters])]))
    assert dict(db.execute(versions_sql).fetchall()) == before

    r = loaded.iloc[0]
    stub.BatchCreateCustomers(pb.BatchCreateCustomersRequest(customers=[customer_pb2.Customer(
        customer_hash=r.customer_hash, tariff_type="demand", region=r.region, meter_ids=[int(r.meter_id)])]))
    after = dict(db.execute(versions_sql).fetchall())
    changed = {m for m in after if after[m] != before.get(m)}
    assert changed == {dt.date(2026, 1, 1)}


def test_a_month_summarised_in_chunks_of_customers_equals_one_pass(loaded, segmented, mesh, monkeypatch):
    """Summarising reads a chunk of customers' usage at a time (a month at 1.2 M is ~0.9 billion cells):
    chunks of 7 customers give exactly the summary of one pass over all of them."""
    import asyncio
    from dataclasses import fields

    from customer_svc import month_fold
    from customer_svc.store import CustomerStore
    from meters.db import open_pool

    async def january(chunk: int):
        monkeypatch.setattr(month_fold, "SUMMARY_CHUNK", chunk)
        pool = await open_pool(mesh.pg_dsn)
        try:
            fleet = month_fold.Fleet.of(await CustomerStore(pool).customers_with_meters())
            async with pool.connection() as conn:
                return await month_fold.summarise_days(conn, fleet, month_fold.unix(dt.date(2026, 1, 1)), 31)
        finally:
            await pool.close()

    whole, chunked = asyncio.run(january(1_000_000)), asyncio.run(january(7))
    assert whole.hours.sum() > 0 and len(whole) > 100
    for f in fields(whole):
        np.testing.assert_array_equal(getattr(chunked, f.name), getattr(whole, f.name), err_msg=f.name)
