"""OutageService.ListTheftSuspects on a stack and mesh of this module's own: a generated fleet with planted
theft (meters.fleet.theft) goes in through the platform's real paths (meters/fleet_platform.py:
registration of meters, network and customers; readings in signed net flow through StreamReadings, so
exports are kept as NEGATIVE_CONSUMPTION rejects; meter events through StreamMeterEvents; transformer
telemetry with its energy through RecordTransformerTelemetry), and the planted thefts, read from the fleet's truth, must be the top of the
ranking the service computes from PostgreSQL, over gRPC, REST and the CLI; bad requests get their fields.

Own stack: the ranking is over every meter the database holds, so it must hold this fleet alone (in the
session mesh other modules register meters and transformers with the same ids)."""

import datetime as dt

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from meters.fleet import FleetConfig, generate_topology, plan_thefts
from meters.fleet_platform import load_fleet, recent_start
from meters.scoring.v1 import outage_service_pb2 as pb, outage_service_pb2_grpc
from meters.status_details import field_violations
from tests.e2e.own_stack import own_mesh
from tests.rest import RestGateway

pytestmark = pytest.mark.infra
DAYS = 60
# 200 meters x 60 days of 30-minute readings (576,000); seed 9 plants two bypasses (37 % and 57 % of
# the load unmetered), one with a tamper event near its start, one without.
METERS, SEED = 200, 9
DAY_S = 86_400


def ts(unix_s: int) -> Timestamp:
    return Timestamp(seconds=int(unix_s))


def iso(unix_s: int) -> str:
    return dt.datetime.fromtimestamp(unix_s, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def loaded():
    cfg = FleetConfig(meters=METERS, days=DAYS, seed=SEED, interval_minutes=30, signed_net_flow=True,
                      start=recent_start(DAYS))
    topology = generate_topology(cfg)
    thefts = plan_thefts(cfg, topology)
    with own_mesh("theft", "ingest", "ingest-writer", "alert", "customer", "scoring") as (_, mesh):
        yield mesh, cfg, thefts, load_fleet(mesh, cfg, topology, thefts).readings


def suspects(mesh, cfg, roles=("analyst",), **kw) -> pb.ListTheftSuspectsResponse:
    with mesh.channel("scoring", roles=roles) as ch:
        request = pb.ListTheftSuspectsRequest(start_time=ts(cfg.start_unix_s),
                                              end_time=ts(cfg.start_unix_s + cfg.days * DAY_S), **kw)
        try:
            return outage_service_pb2_grpc.OutageServiceStub(ch).ListTheftSuspects(request, timeout=120)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.INTERNAL:
                raise AssertionError(f"scoring log:\n{mesh.log_tail('scoring')}") from err
            raise


def test_planted_thefts_rank_at_the_top_with_their_evidence(loaded):
    mesh, cfg, thefts, readings = loaded
    assert readings.rejected > 0  # the exports, kept as NEGATIVE_CONSUMPTION: the balance's export side
    r = suspects(mesh, cfg, page_size=10)
    assert (r.meters_ranked, r.transformers_without_energy, r.solar_registration_known) == (METERS, 0, True)
    assert r.start_time.seconds == cfg.start_unix_s and r.end_time.seconds == cfg.start_unix_s + DAYS * DAY_S
    assert [s.rank for s in r.suspects] == list(range(1, 11))
    planted = set(thefts["meter_id"])
    assert len(planted) >= 2 and (thefts["kind"] == "bypass").all()
    top = r.suspects[:len(planted)]
    assert {s.meter_id for s in top} == planted  # recall 1.0 at k = planted
    assert r.suspects[len(planted)].score < min(s.score for s in top)
    truth = thefts.set_index("meter_id")
    for s in top:
        t = truth.loc[s.meter_id]
        assert s.transformer_id == t["transformer_id"]
        assert abs(s.suspected_start_time.seconds - t["started_unix_s"]) <= 7 * DAY_S
        assert 0 < s.unmetered_share < 1 and s.balance_z >= 3
        if t["tamper_event"]:
            assert s.tamper_event
    assert any(truth.loc[s.meter_id, "tamper_event"] for s in top)
    assert not all(truth.loc[s.meter_id, "tamper_event"] for s in top)  # one found by the balance alone


def test_one_transformers_meters_only(loaded):
    mesh, cfg, thefts, _ = loaded
    thief = thefts.iloc[0]
    r = suspects(mesh, cfg, transformer_id=int(thief["transformer_id"]))
    assert r.transformers_balanced == 1 and {s.transformer_id for s in r.suspects} == {thief["transformer_id"]}
    assert r.suspects[0].meter_id == thief["meter_id"] and len(r.suspects) == r.meters_ranked < METERS


@pytest.mark.parametrize(("start_day", "end_day", "extra", "fields"), [
    (10, 0, {}, ["end_time"]),  # start after end
    (0, 20, {}, ["end_time"]),  # too short
    (-400, 20, {}, ["end_time"]),  # too long
    (0, 60, {"region": "XX"}, ["region"]),
    (0, 60, {"page_size": -1}, ["page_size"]),
])
def test_bad_windows_and_fields_are_invalid_argument(loaded, start_day, end_day, extra, fields):
    mesh, cfg, _, _ = loaded
    with mesh.channel("scoring", roles=("analyst",)) as ch, pytest.raises(grpc.RpcError) as err:
        outage_service_pb2_grpc.OutageServiceStub(ch).ListTheftSuspects(pb.ListTheftSuspectsRequest(
            start_time=ts(cfg.start_unix_s + start_day * DAY_S), end_time=ts(cfg.start_unix_s + end_day * DAY_S),
            **extra), timeout=60)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert list(field_violations(err.value)) == fields


def test_missing_times_future_end_unknown_assets_and_roles(loaded):
    mesh, cfg, _, _ = loaded
    with mesh.channel("scoring", roles=("analyst",)) as ch:
        stub = outage_service_pb2_grpc.OutageServiceStub(ch)
        with pytest.raises(grpc.RpcError) as err:
            stub.ListTheftSuspects(pb.ListTheftSuspectsRequest(), timeout=60)
        assert list(field_violations(err.value)) == ["start_time", "end_time"]
        later = int(dt.datetime.now(dt.timezone.utc).timestamp()) + 30 * DAY_S
        with pytest.raises(grpc.RpcError) as err:
            stub.ListTheftSuspects(pb.ListTheftSuspectsRequest(start_time=ts(later - 40 * DAY_S), end_time=ts(later)),
                                   timeout=60)
        assert list(field_violations(err.value)) == ["end_time"]
    for kw in ({"transformer_id": 987_654}, {"feeder_id": 987_654}):
        with pytest.raises(grpc.RpcError) as err:
            suspects(mesh, cfg, **kw)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    for roles in (("customer_service",), ("meter_head_end",), ("platform_admin",)):
        with pytest.raises(grpc.RpcError) as err:
            suspects(mesh, cfg, roles=roles)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert suspects(mesh, cfg, roles=("grid_ops",), page_size=1).suspects


@pytest.fixture(scope="module")
def gateway(loaded):
    mesh = loaded[0]
    mesh.start_gateway()
    return RestGateway(mesh.gateway_url, mesh.https_context(), mesh.token(roles=("analyst",)))


def test_rest_returns_the_same_ranking_and_400_404(loaded, gateway):
    mesh, cfg, thefts, _ = loaded
    window = f"start_time={iso(cfg.start_unix_s)}&end_time={iso(cfg.start_unix_s + DAYS * DAY_S)}"
    status, body = gateway.call(f"/api/v1/theftSuspects?{window}&page_size=5")
    assert status == 200, body
    grpc_top = suspects(mesh, cfg, page_size=5).suspects
    assert [int(s["meter_id"]) for s in body["suspects"]] == [s.meter_id for s in grpc_top]
    first = body["suspects"][0]
    assert first["score"] == pytest.approx(grpc_top[0].score) and "suspected_start_time" in first
    assert int(body["meters_ranked"]) == METERS
    status, body = gateway.call(f"/api/v1/theftSuspects?start_time={iso(cfg.start_unix_s)}"
                                f"&end_time={iso(cfg.start_unix_s + 5 * DAY_S)}")
    assert status == 400 and "end_time" in str(body)
    status, body = gateway.call(f"/api/v1/theftSuspects?{window}&transformer_id=987654")
    assert status == 404, body


def test_cli_prints_the_servers_ranking(loaded, tmp_path):
    from typer.testing import CliRunner

    from meters.cli import app

    mesh, cfg, thefts, _ = loaded
    me = mesh.identity(("analyst",))
    env = {"METERS_TLS_CA_FILE": me.ca_file, "METERS_TLS_CERT_FILE": me.cert_file, "METERS_TLS_KEY_FILE": me.key_file,
           "METERS_TOKEN": me.token, "METERS_DEV_PLAINTEXT": "1" if me.plaintext else ""}
    out = tmp_path / "suspects.csv"
    result = CliRunner().invoke(app, ["report", "theft-suspects", "--server", mesh.grpc_addr("scoring"), "--start",
                                      iso(cfg.start_unix_s), "--end", iso(cfg.start_unix_s + DAYS * DAY_S), "--top",
                                      str(len(thefts)), "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    import pandas as pd

    got = pd.read_csv(out)
    assert set(got["meter_id"]) == set(thefts["meter_id"]) and list(got["rank"]) == list(range(1, len(thefts) + 1))
