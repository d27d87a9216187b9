"""The recommendation lifecycle through the running mesh, over gRPC and REST: a segmentation run
proposes recommendations, they are delivered, accepted or declined, and an accepted one's saving is
measured against the customer's own usage before acceptance. Bad transitions answer
FAILED_PRECONDITION, change no row and leave only their refused attempt in the audit trail; the
engagement gauges follow the database.

Three customers of QLD (no daylight saving: local = UTC + 10) on the flat tariff: 0.3 kW all day
and 3 kW from 14:00 to 20:00 local (77 % of their 23.4 kWh a day in the peak: a time-shift case),
through ingest and Kafka for February 2026 and the first 9 days of March; customers 0 and 2 run
their afternoon block at 1 kW from 2 March (11.4 kWh a day). Segmentation bills February (the last
complete month). Acceptance happens now, so the test moves accepted_at to 1 March 00:30 UTC
(shift_times: recorded in the audit trail by system:test-clock): the 7 days before (22-28 Feb)
against the 7 after (2-8 March) give exactly 12 kWh a day less, 12 x $0.33 x 30.44 days a month.
"""

import datetime as dt
import math
import urllib.request

import grpc
import psycopg
import pytest

from customer_svc import training
from customer_svc.billing import DAYS_PER_MONTH, load_tariffs
from meters.customer.v1 import customer_pb2, customer_service_pb2 as pb, customer_service_pb2_grpc
from meters.customer.v1 import recommendation_pb2 as rpb, segment_pb2 as spb
from meters.deadlines import CALL_S
from meters.ingest.v1 import meter_pb2
from meters.ingest_client import register_meters, stream_readings
from meters.ml_jobs import MlJob
from meters.model_registry import ModelRegistry
from tests.e2e.lifecycle import audit_outcomes, flat_readings, refused_unchanged, rows, shift_times
from tests.grpc_helpers import wait_for

pytestmark = pytest.mark.infra
FIRST_METER = 8_400_001
UTC = dt.timezone.utc
FEB = int(dt.datetime(2026, 2, 1, tzinfo=UTC).timestamp())
DAYS = 28 + 9
CUT_FROM = int(dt.datetime(2026, 3, 2, tzinfo=UTC).timestamp()) - 10 * 3600  # 2 March, local midnight
ACCEPTED = dt.datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
S = rpb.RecommendationStatus


def afternoons(start: int, days: int) -> list[tuple[int, int]]:
    """The 14:00-20:00 QLD (04:00-10:00 UTC) windows of `days` days from `start` (a UTC midnight)."""
    return [(start + d * 86400 + 4 * 3600, start + d * 86400 + 10 * 3600) for d in range(days)]


@pytest.fixture(scope="module")
def stub(gateway, mesh, tmp_path_factory):
    registry = ModelRegistry(tmp_path_factory.mktemp("rec-registry"))
    training.train(MlJob(registry, tmp_path_factory.mktemp("rec-reports"), quick=True))
    with mesh.serving("customer", env={"METERS_MODEL_REGISTRY": str(registry.root)}), mesh.channel("customer") as ch:
        yield customer_service_pb2_grpc.CustomerServiceStub(ch)


@pytest.fixture(scope="module")
def proposed(mesh, stub, ingest_channel) -> list[rpb.Recommendation]:
    """Each customer's time-shift recommendation, proposed by a segmentation run over February."""
    meters = [FIRST_METER + i for i in range(3)]
    register_meters(ingest_channel, [meter_pb2.Meter(meter_id=m, meter_number=f"RECLC-{m}", transformer_id=1)
                                     for m in meters])
    stub.BatchCreateCustomers(pb.BatchCreateCustomersRequest(customers=[
        customer_pb2.Customer(account_number=f"REC-LIFECYCLE-{i}", region="QLD", tariff_type="flat", meter_ids=[m])
        for i, m in enumerate(meters)]), timeout=CALL_S)
    windows = [(lo, hi, {m: 3.0 for m in meters}) for lo, hi in afternoons(FEB, DAYS)]
    windows += [(lo, hi, {meters[0]: 1.0, meters[2]: 1.0}) for lo, hi in afternoons(FEB, DAYS) if lo >= CUT_FROM]
    cols = flat_readings({m: 0.3 for m in meters}, FEB, DAYS, windows)
    assert stream_readings(ingest_channel, [cols], timeout_s=CALL_S).summary.accepted == len(cols)
    folded = "SELECT sum(bit_count(slots::bit(32))) FROM customers.hourly_usage WHERE meter_id BETWEEN %s AND %s"
    with psycopg.connect(mesh.pg_dsn, autocommit=True) as db:
        assert wait_for(lambda: db.execute(folded, [meters[0], meters[-1]]).fetchone()[0] == len(cols))
    run = stub.RunSegmentation(pb.RunSegmentationRequest(usage_days=28, wait=True), timeout=CALL_S).segmentation_run
    assert run.status == spb.SEGMENTATION_RUN_STATUS_SUCCEEDED, run.error_message
    recs = []
    for i in range(3):
        listed = stub.ListRecommendations(pb.ListRecommendationsRequest(
            parent=f"customers/{mesh.pii_digest(f'REC-LIFECYCLE-{i}')}",
            recommendation_type=rpb.RECOMMENDATION_TYPE_TIME_SHIFT), timeout=CALL_S).recommendations
        assert len(listed) == 1 and listed[0].status == S.Value("RECOMMENDATION_STATUS_PENDING")
        assert listed[0].description.startswith("In February 2026, 77% of your use fell in the 2pm-8pm peak")
        recs.append(listed[0])
    return recs


def rec_id(name: str) -> int:
    return int(name.rsplit("/", 1)[1])


def state(db, name: str) -> tuple[list, list]:
    return (rows(db, "SELECT * FROM customers.customer_recommendations WHERE id = %s", [rec_id(name)]),
            [e for e in audit_outcomes(db, name) if e[1] == "OK"])


def refused(db, name: str, call, request, reason: str) -> None:
    refused_unchanged(db, name, lambda: state(db, name), call, request, reason)


def accept_at(db, name: str, when: dt.datetime) -> None:
    shift_times(db, "customers.customer_recommendations", {"accepted_at": when}, "id = %s", [rec_id(name)], name)


def expected_saving_aud() -> float:
    return round(12.0 * load_tariffs()["tariffs"]["flat"]["energy_aud_per_kwh"] * DAYS_PER_MONTH, 2)


def test_deliver_accept_and_measure_over_grpc(stub, proposed, db):
    name = proposed[0].name
    refused(db, name, stub.AcceptRecommendation, pb.AcceptRecommendationRequest(name=name), "RECOMMENDATION_PENDING")
    refused(db, name, stub.MeasureRecommendation, pb.MeasureRecommendationRequest(name=name),
            "RECOMMENDATION_PENDING")
    sent = stub.DeliverRecommendation(pb.DeliverRecommendationRequest(name=name, channel="email"),
                                      timeout=CALL_S).recommendation
    assert sent.status == S.Value("RECOMMENDATION_STATUS_SENT") and sent.delivery_channel == "email"
    assert sent.HasField("deliver_time")
    refused(db, name, stub.DeliverRecommendation, pb.DeliverRecommendationRequest(name=name), "RECOMMENDATION_SENT")
    accepted = stub.AcceptRecommendation(pb.AcceptRecommendationRequest(name=name), timeout=CALL_S).recommendation
    assert accepted.status == S.Value("RECOMMENDATION_STATUS_ACCEPTED") and accepted.HasField("accept_time")
    refused(db, name, stub.DeclineRecommendation, pb.DeclineRecommendationRequest(name=name),
            "RECOMMENDATION_ACCEPTED")

    accept_at(db, name, dt.datetime(2026, 3, 8, tzinfo=UTC))  # a week after it the readings run out
    refused(db, name, stub.MeasureRecommendation, pb.MeasureRecommendationRequest(name=name, window_days=7),
            "NOT_ENOUGH_USAGE")
    accept_at(db, name, ACCEPTED)
    measured = stub.MeasureRecommendation(pb.MeasureRecommendationRequest(name=name, window_days=7),
                                          timeout=CALL_S).recommendation
    m = measured.measurement
    assert measured.status == S.Value("RECOMMENDATION_STATUS_MEASURED") and m.window_days == 7
    assert m.baseline_kwh_per_day == pytest.approx(23.4, rel=1e-5)
    assert m.actual_kwh_per_day == pytest.approx(11.4, rel=1e-5)
    assert m.saving_kwh_per_day == pytest.approx(12.0, rel=1e-5)
    assert m.baseline_peak_share == pytest.approx(18 / 23.4, rel=1e-5)
    assert m.actual_peak_share == pytest.approx(6 / 11.4, rel=1e-5)
    assert m.monthly_saving_aud == pytest.approx(expected_saving_aud(), abs=0.01)
    assert (m.tariff_before, m.tariff_after) == ("flat", "flat")
    refused(db, name, stub.MeasureRecommendation, pb.MeasureRecommendationRequest(name=name),
            "RECOMMENDATION_MEASURED")
    assert [a for a, o in audit_outcomes(db, name) if o == "OK"] == [
        "deliver", "accept", "test_clock", "test_clock", "measure"]

    # A later run replaces only proposed recommendations: this one stays, and the run records its replacement.
    run = stub.RunSegmentation(pb.RunSegmentationRequest(usage_days=28, wait=True), timeout=CALL_S).segmentation_run
    assert run.status == spb.SEGMENTATION_RUN_STATUS_SUCCEEDED
    got = stub.GetRecommendation(pb.GetRecommendationRequest(name=name), timeout=CALL_S).recommendation
    assert got.status == S.Value("RECOMMENDATION_STATUS_MEASURED") and got.measurement == m
    assert audit_outcomes(db, run.name) == [("create", "OK"), ("store_results", "OK")]


def test_decline_and_accept_over_rest(gateway, stub, proposed, db):
    declined, taken = proposed[1].name, proposed[2].name
    status, body = gateway.call(f"/api/v1/{declined}:decline", "POST", {"reason": "too hard"})
    assert status == 400 and body["details"][0]["reason"] == "RECOMMENDATION_PENDING", body
    status, body = gateway.call(f"/api/v1/{declined}:deliver", "POST", {"channel": "app"})
    assert status == 200 and body["recommendation"]["status"] == "RECOMMENDATION_STATUS_SENT", body
    status, body = gateway.call(f"/api/v1/{declined}:decline", "POST", {"reason": "no time"})
    assert status == 200 and body["recommendation"]["status"] == "RECOMMENDATION_STATUS_DISMISSED", body
    assert body["recommendation"]["decline_reason"] == "no time"
    before = state(db, declined)
    for verb, payload in (("accept", {}), ("measure", {}), ("deliver", {}), ("decline", {})):
        status, body = gateway.call(f"/api/v1/{declined}:{verb}", "POST", payload)
        assert status == 400 and body["code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0], body
        assert body["details"][0]["reason"] == "RECOMMENDATION_DISMISSED" and "declined" in body["message"]
    assert state(db, declined) == before

    assert gateway.call(f"/api/v1/{taken}:deliver", "POST", {})[0] == 200
    assert gateway.call(f"/api/v1/{taken}:accept", "POST", {})[0] == 200
    accept_at(db, taken, ACCEPTED)
    status, body = gateway.call(f"/api/v1/{taken}:measure", "POST", {"window_days": 7})
    assert status == 200, body
    m = body["recommendation"]["measurement"]
    assert m["saving_kwh_per_day"] == pytest.approx(12.0, rel=1e-5)
    assert m["monthly_saving_aud"] == pytest.approx(expected_saving_aud(), abs=0.01)
    status, body = gateway.call(f"/api/v1/{taken}")
    assert status == 200 and body["recommendation"]["status"] == "RECOMMENDATION_STATUS_MEASURED", body
    status, body = gateway.call(f"/api/v1/{taken}:measure", "POST", {"window_days": 91})
    assert status == 400 and body["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0], body


def gauges(mesh) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{mesh.metrics_port('customer')}/metrics", timeout=5).read()
    out = {}
    for line in text.decode().splitlines():
        if line.startswith("meters_customer_") and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def test_engagement_gauges_follow_the_database(mesh, stub, proposed, db):
    delivered, accepted = db.execute(
        """SELECT count(*) FILTER (WHERE status <> 'pending'), count(*) FILTER (WHERE status IN ('accepted', 'measured'))
           FROM customers.customer_recommendations""").fetchone()
    participated, targeted = db.execute(
        """SELECT sum(customers_participated), sum(customers_targeted) FROM customers.demand_response_events
           WHERE measured_at IS NOT NULL AND NOT cancelled""").fetchone()
    got = gauges(mesh)
    assert delivered > 0 and got["meters_customer_recommendation_engagement_ratio"] == pytest.approx(accepted / delivered)
    assert got['meters_customer_recommendations_delivered{status="measured"}'] == db.execute(
        "SELECT count(*) FROM customers.customer_recommendations WHERE status = 'measured'").fetchone()[0]
    participation = got["meters_customer_demand_response_participation_ratio"]
    assert math.isnan(participation) if not targeted else participation == pytest.approx(participated / targeted)
    assert not any("customer_hash" in k or "REC-LIFECYCLE" in k for k in got)
