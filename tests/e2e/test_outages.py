"""Outage detection live: last gasps in through ingest -> Kafka meter-events -> scoring_svc's detector ->
grid.outages, WatchOutages, one alert per outage in alert_svc resolved on restore; planned work; REST;
a detector SIGKILLed after deciding replays from its checkpoint and doubles nothing."""

import threading
import time

import grpc
import pytest

from meters.alert.v1 import alert_pb2, alert_service_pb2, alert_service_pb2_grpc
from meters.ingest.v1 import ingest_service_pb2, ingest_service_pb2_grpc, meter_pb2
from meters.ingest.v1.meter_event_pb2 import MeterEvent, MeterEventBatch, MeterEventType as T
from meters.ingest_client import register_meters
from meters.scoring.v1 import outage_pb2, outage_service_pb2 as pb, outage_service_pb2_grpc
from meters.scoring.v1 import scoring_service_pb2, scoring_service_pb2_grpc, transformer_pb2
from meters.ingest_client import stream_readings
from tests.e2e.readings import INTERVAL_S, readings
from tests.rest import RestGateway

pytestmark = pytest.mark.infra

# A network of its own: substation 7101, feeders 7101-7103, 3 transformers of 4 meters each per feeder.
SUBSTATION, FEEDERS, TX_PER_FEEDER, METERS_PER_TX = 7101, (7101, 7102, 7103), 3, 4
FAST = {"METERS_OUTAGE_DETECTOR_CONFIG": '{"window_s": 2, "settle_s": 1, "confirm_s": 3, "power_on_delay_s": 0}',
        "METERS_OUTAGE_CHECKPOINT_S": "0.5", "METERS_OUTAGE_RESUME_CHECK_S": "1"}


def transformer(feeder: int, k: int) -> int:
    return feeder * 10 + k


def meters_of(tx: int) -> list[int]:
    return [tx * 100 + i for i in range(METERS_PER_TX)]


@pytest.fixture(scope="module")
def outage_mesh(all_services):
    with all_services.serving("scoring", env=FAST):
        yield all_services


def register_network(mesh, substation: int, feeders, region: str) -> list[tuple[int, int]]:
    """A substation with these feeders, TX_PER_FEEDER transformers of METERS_PER_TX meters each; (feeder, tx)s."""
    with mesh.channel("scoring") as scoring, mesh.channel("ingest") as ingest:
        grid = scoring_service_pb2_grpc.ScoringServiceStub(scoring)
        grid.BatchCreateSubstations(scoring_service_pb2.BatchCreateSubstationsRequest(substations=[
            transformer_pb2.Substation(substation_id=substation, display_name=f"ZS-{substation}", region=region)]))
        outage_service_pb2_grpc.OutageServiceStub(scoring).BatchCreateFeeders(pb.BatchCreateFeedersRequest(
            feeders=[outage_pb2.Feeder(feeder_id=f, substation_id=substation) for f in feeders]))
        txs = [(f, transformer(f, k)) for f in feeders for k in range(TX_PER_FEEDER)]
        grid.BatchCreateTransformers(scoring_service_pb2.BatchCreateTransformersRequest(transformers=[
            transformer_pb2.Transformer(transformer_id=t, substation_id=substation, region=region, capacity_kva=200,
                                        feeder_id=f) for f, t in txs]))
        grid.BatchCreateMeterConnections(scoring_service_pb2.BatchCreateMeterConnectionsRequest(connections=[
            transformer_pb2.MeterConnection(meter_id=m, transformer_id=t) for _, t in txs for m in meters_of(t)]))
        register_meters(ingest, [meter_pb2.Meter(meter_id=m, meter_number=f"OUT-{m}", transformer_id=t)
                                 for _, t in txs for m in meters_of(t)])
    time.sleep(12)  # the detector picks the network up at its next refresh (every 10 s)
    return txs


@pytest.fixture(scope="module")
def network(outage_mesh):
    return register_network(outage_mesh, SUBSTATION, FEEDERS, "NSW")


def send(mesh, kind: int, meter_ids: list[int], t_s: float, tag: str) -> None:
    events = [MeterEvent(event_id=f"{tag}-{m}", meter_id=m, type=kind, event_time_unix_ms=int(t_s * 1000) + i * 300)
              for i, m in enumerate(meter_ids)]
    with mesh.channel("ingest", roles=("meter_head_end",)) as ch:
        reply = ingest_service_pb2_grpc.IngestServiceStub(ch).IngestMeterEvents(
            ingest_service_pb2.IngestMeterEventsRequest(batch=MeterEventBatch(events=events)), timeout=30)
    assert reply.summary.accepted == len(events), reply


def outages_of(mesh, asset_id: int, level: int) -> list:
    with mesh.channel("scoring") as ch:
        page = outage_service_pb2_grpc.OutageServiceStub(ch).ListOutages(pb.ListOutagesRequest(level=level,
                                                                                                page_size=1000))
    return [o for o in page.outages if o.asset_id == asset_id]


def wait_outage(mesh, asset_id: int, level: int, state: int, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [o for o in outages_of(mesh, asset_id, level) if o.state == state]
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"no outage of {asset_id} in state {state}; scoring log:\n{mesh.log_tail('scoring')}")


def outage_alerts(mesh, name: str) -> list:
    with mesh.channel("alert") as ch:
        alerts = alert_service_pb2_grpc.AlertServiceStub(ch).ListAlerts(alert_service_pb2.ListAlertsRequest(
            source=alert_pb2.ALERT_SOURCE_OUTAGE_DETECTION, page_size=1000)).alerts
    return [a for a in alerts if a.labels.get("outage") == name]


def wait_alert(mesh, name: str, status: int, timeout_s: float = 30) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alerts = outage_alerts(mesh, name)
        if alerts and all(a.status == status for a in alerts):
            return alerts
        time.sleep(0.3)
    raise AssertionError(f"alerts of {name}: {outage_alerts(mesh, name)}")


def collect(stream, asset_id: int, into: list) -> None:
    try:
        into.extend(r for r in stream if r.outage.asset_id == asset_id)
    except grpc.RpcError as err:  # the test cancels the stream when done
        assert err.code() == grpc.StatusCode.CANCELLED, err


def test_transformer_outage_opens_alerts_once_and_closes_on_restore(outage_mesh, network):
    tx = transformer(FEEDERS[0], 0)
    watched: list = []
    with outage_mesh.channel("scoring") as ch:
        stream = outage_service_pb2_grpc.OutageServiceStub(ch).WatchOutages(
            pb.WatchOutagesRequest(min_level=outage_pb2.OUTAGE_LEVEL_TRANSFORMER), timeout=120)
        reader = threading.Thread(target=collect, args=(stream, tx, watched), daemon=True)
        reader.start()
        start = time.time() - 900  # restored 10 minutes later, 5 minutes ago
        send(outage_mesh, T.METER_EVENT_TYPE_POWER_OFF, meters_of(tx)[:3], start, "tx-off")  # one gasp lost
        opened = wait_outage(outage_mesh, tx, outage_pb2.OUTAGE_LEVEL_TRANSFORMER, outage_pb2.OUTAGE_STATE_OPEN)
        assert len(opened) == 1
        o = opened[0]
        assert (o.customers_affected, o.feeder_id, o.substation_id, o.region) == (4, FEEDERS[0], SUBSTATION, "NSW")
        assert abs(o.started_at.seconds - int(start)) <= 1 and not o.planned
        assert [a.severity for a in wait_alert(outage_mesh, o.name, alert_pb2.ALERT_STATUS_OPEN)] == \
            [alert_pb2.SEVERITY_WARNING]
        with outage_mesh.channel("scoring") as ch2:
            full = outage_service_pb2_grpc.OutageServiceStub(ch2).GetOutage(pb.GetOutageRequest(name=o.name)).outage
        assert sorted(full.affected_meter_ids) == meters_of(tx)

        send(outage_mesh, T.METER_EVENT_TYPE_POWER_ON, meters_of(tx), start + 600, "tx-on")
        closed = wait_outage(outage_mesh, tx, outage_pb2.OUTAGE_LEVEL_TRANSFORMER, outage_pb2.OUTAGE_STATE_RESTORED)
        assert len(closed) == 1 and closed[0].outage_id == o.outage_id
        assert abs(closed[0].restored_at.seconds - (start + 600)) <= 2 and not closed[0].momentary
        assert closed[0].customer_minutes == pytest.approx(4 * 10, rel=0.02)
        assert len(wait_alert(outage_mesh, o.name, alert_pb2.ALERT_STATUS_RESOLVED)) == 1
        deadline = time.monotonic() + 10
        while len(watched) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        stream.cancel()
    assert [(w.change, w.outage.outage_id) for w in watched if w.outage.asset_id == tx][:2] == [
        (pb.OUTAGE_CHANGE_OPENED, o.outage_id), (pb.OUTAGE_CHANGE_RESTORED, o.outage_id)]


def test_feeder_outage_is_one_outage_and_planned_work_marks_it(outage_mesh, network):
    feeder = FEEDERS[1]
    window_start = int(time.time())
    with outage_mesh.channel("scoring", roles=("grid_ops",)) as ch:
        work = outage_service_pb2_grpc.OutageServiceStub(ch).CreatePlannedWork(pb.CreatePlannedWorkRequest(
            planned_work=outage_pb2.PlannedWork(level=outage_pb2.OUTAGE_LEVEL_FEEDER, asset_id=feeder,
                                                start_time={"seconds": window_start},
                                                end_time={"seconds": window_start + 3600},
                                                description="WO-1234 pole replacement"))).planned_work
    assert work.name.startswith("plannedWork/")
    time.sleep(11)  # registered work reaches the detector at its next refresh
    start = time.time() - 1  # the work began after it was registered: planned
    all_meters = [m for k in range(TX_PER_FEEDER) for m in meters_of(transformer(feeder, k))]
    send(outage_mesh, T.METER_EVENT_TYPE_POWER_OFF, all_meters, start, "fd-off")
    o = wait_outage(outage_mesh, feeder, outage_pb2.OUTAGE_LEVEL_FEEDER, outage_pb2.OUTAGE_STATE_OPEN)
    assert len(o) == 1 and o[0].customers_affected == len(all_meters) and o[0].planned and o[0].cause == "planned"
    for k in range(TX_PER_FEEDER):  # explained by the feeder: no transformer outages beside it
        assert outages_of(outage_mesh, transformer(feeder, k), outage_pb2.OUTAGE_LEVEL_TRANSFORMER) == []
    assert [a.severity for a in wait_alert(outage_mesh, o[0].name, alert_pb2.ALERT_STATUS_OPEN)] == \
        [alert_pb2.SEVERITY_CRITICAL]


def test_rest_lists_outages_and_refuses_bad_planned_work(outage_mesh, network, gateway: RestGateway):
    status, body = gateway.call("/api/v1/outages?page_size=5")
    assert status == 200 and all(o["name"].startswith("outages/") for o in body.get("outages", []))
    status, body = gateway.call("/api/v1/plannedWork", "POST", {"level": "OUTAGE_LEVEL_FEEDER", "asset_id": "1",
                                                                 "start_time": "2026-12-01T10:00:00Z",
                                                                 "end_time": "2026-12-01T09:00:00Z"})
    assert status == 400 and "end_time" in str(body)
    status, _ = gateway.call("/api/v1/outages/999999999")
    assert status == 404


def test_premise_outage_without_power_on_closes_when_its_readings_resume(outage_mesh, network):
    meter = meters_of(transformer(FEEDERS[2], 2))[0]
    start = (int(time.time()) // INTERVAL_S) * INTERVAL_S - 8 * INTERVAL_S + 60  # a minute into an interval
    send(outage_mesh, T.METER_EVENT_TYPE_POWER_OFF, [meter], start, "premise-off")  # and no power-on, ever
    o = wait_outage(outage_mesh, meter, outage_pb2.OUTAGE_LEVEL_METER, outage_pb2.OUTAGE_STATE_OPEN)[0]
    assert o.detected_from == "last_gasp+no_restore" and o.customers_affected == 1
    # its readings come back from the 4th interval after the gasp on (the head-end delivers them late)
    cols = readings(meter, 1, 8)
    keep = cols.reading_times_unix_s > start + 3 * INTERVAL_S
    with outage_mesh.channel("ingest", roles=("meter_head_end",)) as ch:
        stream_readings(ch, [cols.take(keep)])
    closed = wait_outage(outage_mesh, meter, outage_pb2.OUTAGE_LEVEL_METER, outage_pb2.OUTAGE_STATE_RESTORED)
    first_end = int(cols.reading_times_unix_s[keep].min())
    assert closed[0].restored_from == "readings"
    assert closed[0].restored_at.seconds == first_end - INTERVAL_S  # restored at that interval's start


def test_killed_detector_replays_without_doubling(outage_mesh, network, db):
    tx = transformer(FEEDERS[2], 1)
    start = time.time() - 600
    send(outage_mesh, T.METER_EVENT_TYPE_POWER_OFF, meters_of(tx), start, "kill-off")
    o = wait_outage(outage_mesh, tx, outage_pb2.OUTAGE_LEVEL_TRANSFORMER, outage_pb2.OUTAGE_STATE_OPEN)[0]
    wait_alert(outage_mesh, o.name, alert_pb2.ALERT_STATUS_OPEN)
    outage_mesh.kill("scoring")  # decided and alerted; the checkpoint may or may not hold it yet
    send(outage_mesh, T.METER_EVENT_TYPE_POWER_ON, meters_of(tx), start + 300, "kill-on")  # while it is down
    outage_mesh.start("scoring", env=FAST)
    closed = wait_outage(outage_mesh, tx, outage_pb2.OUTAGE_LEVEL_TRANSFORMER, outage_pb2.OUTAGE_STATE_RESTORED,
                         timeout_s=90)
    assert [c.outage_id for c in closed] == [o.outage_id]
    assert db.execute("SELECT count(*) FROM grid.outages WHERE level = 'transformer' AND asset_id = %s",
                      [tx]).fetchone()[0] == 1
    assert len(wait_alert(outage_mesh, o.name, alert_pb2.ALERT_STATUS_RESOLVED)) == 1


def test_outage_rpcs_need_their_roles(outage_mesh, network):
    with outage_mesh.channel("scoring", roles=("analyst",)) as ch:
        stub = outage_service_pb2_grpc.OutageServiceStub(ch)
        stub.ListOutages(pb.ListOutagesRequest(page_size=1))
        with pytest.raises(grpc.RpcError) as err:
            stub.CreatePlannedWork(pb.CreatePlannedWorkRequest(planned_work=outage_pb2.PlannedWork()))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
