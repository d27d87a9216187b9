"""OutageService.GetReliabilityReport on the live mesh: outages the detector opened and closed from last gasps
and restores (tests/e2e/test_outages.py's mesh and network) come back in the month's report with their
customers and indices; REST returns it (files base64); a bad month is 400 with its field; roles hold."""

import base64
import datetime as dt
import io
import time

import grpc
import pandas as pd
import pytest

from meters.ingest.v1.meter_event_pb2 import MeterEventType as T
from meters.regions import NEM_TIMEZONE
from meters.scoring.v1 import outage_pb2, outage_service_pb2 as pb, outage_service_pb2_grpc
from meters.status_details import field_violations
from tests.e2e.test_outages import (METERS_PER_TX, TX_PER_FEEDER, meters_of, outage_mesh, register_network, send,
                                    transformer, wait_outage)
from tests.rest import RestGateway

pytestmark = pytest.mark.infra
__all__ = ["outage_mesh"]  # the fixture, imported to be used here

# A TAS network of its own: substation 7301, two feeders.
SUBSTATION, FEEDERS, REGION = 7301, (7301, 7302), "TAS"
CUSTOMERS = len(FEEDERS) * TX_PER_FEEDER * METERS_PER_TX
SUSTAINED_MIN, MOMENTARY_S = 20, 60


def report(mesh, month: str, region: str = "", roles=("grid_ops",)) -> pb.GetReliabilityReportResponse:
    with mesh.channel("scoring", roles=roles) as ch:
        return outage_service_pb2_grpc.OutageServiceStub(ch).GetReliabilityReport(
            pb.GetReliabilityReportRequest(month=month, region=region), timeout=60).report


def nem_month(unix_s: float) -> str:
    return pd.Timestamp(unix_s, unit="s", tz="UTC").tz_convert(NEM_TIMEZONE).strftime("%Y-%m")


@pytest.fixture(scope="module")
def outages(outage_mesh):
    """Before / after reports of a transformer outage of 20 minutes and a momentary one of 60 s."""
    register_network(outage_mesh, SUBSTATION, FEEDERS, REGION)
    start = time.time() - 1800
    month = nem_month(start)
    if nem_month(start + SUSTAINED_MIN * 60 + 600) != month:
        pytest.skip("the outages would straddle a month's end")
    before = report(outage_mesh, month, REGION)
    sustained_tx, momentary_tx = transformer(FEEDERS[0], 0), transformer(FEEDERS[1], 0)
    done = []
    for tx, off, on, tag in ((sustained_tx, start, start + SUSTAINED_MIN * 60, "rel-s"),
                             (momentary_tx, start + 600, start + 600 + MOMENTARY_S, "rel-m")):
        send(outage_mesh, T.METER_EVENT_TYPE_POWER_OFF, meters_of(tx), off, f"{tag}-off")
        wait_outage(outage_mesh, tx, outage_pb2.OUTAGE_LEVEL_TRANSFORMER, outage_pb2.OUTAGE_STATE_OPEN)
        send(outage_mesh, T.METER_EVENT_TYPE_POWER_ON, meters_of(tx), on, f"{tag}-on")
        done += wait_outage(outage_mesh, tx, outage_pb2.OUTAGE_LEVEL_TRANSFORMER, outage_pb2.OUTAGE_STATE_RESTORED)
    return month, before, report(outage_mesh, month, REGION), done


def _delta(after, before, category: str, field: str):
    return getattr(getattr(after, category), field) - getattr(getattr(before, category), field)


def test_report_counts_the_detected_outages_customers_and_indices(outage_mesh, outages, db):
    month, before, after, done = outages
    assert [o.momentary for o in done] == [False, True]
    served = db.execute("""SELECT count(*) FROM grid.meter_connections mc JOIN grid.transformers t
                           ON t.id = mc.transformer_id JOIN grid.feeders f ON f.id = t.feeder_id
                           JOIN grid.substations s ON s.id = f.substation_id WHERE s.region = %s""",
                        [REGION]).fetchone()[0]
    assert after.customers_served == before.customers_served == served >= CUSTOMERS
    assert (after.month, after.region) == (month, REGION)
    # what the two outages add, whatever else the session left in this region and month
    for category in ("total", "unplanned"):
        assert _delta(after, before, category, "customer_minutes") == pytest.approx(METERS_PER_TX * SUSTAINED_MIN,
                                                                                    abs=METERS_PER_TX * 0.1)
        assert _delta(after, before, category, "customer_interruptions") == METERS_PER_TX
        assert _delta(after, before, category, "momentary_interruptions") == METERS_PER_TX
        assert _delta(after, before, category, "sustained_events") == 1
        assert _delta(after, before, category, "momentary_events") == 1
    assert _delta(after, before, "planned", "customer_minutes") == 0
    u = after.unplanned
    assert u.saidi == pytest.approx(u.customer_minutes / served)
    assert u.saifi == pytest.approx(u.customer_interruptions / served)
    assert u.maifi == pytest.approx(u.momentary_interruptions / served)
    assert u.caidi == pytest.approx(u.saidi / u.saifi)
    if before.total.customer_minutes == 0 and served == CUSTOMERS:  # the region is this test's alone
        assert u.saidi == pytest.approx(METERS_PER_TX * SUSTAINED_MIN / CUSTOMERS, rel=0.01)
    events = pd.read_csv(io.BytesIO(after.events_csv))
    mine = events[events["outage_id"].isin([o.outage_id for o in done])]
    assert mine["customers_affected"].tolist() == [METERS_PER_TX, METERS_PER_TX]
    assert mine["duration_min"].iloc[0] == pytest.approx(SUSTAINED_MIN, abs=0.1)
    assert mine["momentary"].tolist() == [False, True] and set(events["region"]) == {REGION}
    html = after.html.decode()
    assert html.startswith("<!DOCTYPE html>") and f"Region {REGION} reliability, {month}" in html
    indices = pd.read_csv(io.BytesIO(after.indices_csv))
    assert set(indices["grouping"]) == {"network", "region", "substation", "feeder"}


def test_network_report_counts_every_customer_served(outage_mesh, outages, db):
    month = outages[0]
    whole = report(outage_mesh, month, roles=("analyst",))
    served = db.execute("""SELECT count(*) FROM grid.meter_connections mc JOIN grid.transformers t
                           ON t.id = mc.transformer_id JOIN grid.feeders f ON f.id = t.feeder_id""").fetchone()[0]
    assert whole.region == "" and whole.customers_served == served
    assert whole.total.customer_minutes >= outages[2].total.customer_minutes


def test_a_month_without_outages_is_a_report_of_zeros_and_no_customers_is_not_found(outage_mesh, outages, db):
    quiet = report(outage_mesh, "2001-01", REGION)
    assert quiet.interruptions == 0 and quiet.unplanned.saidi == 0 and not quiet.unplanned.HasField("caidi")
    assert quiet.customers_served == outages[2].customers_served and quiet.html.startswith(b"<!DOCTYPE html>")
    sa = db.execute("SELECT count(*) FROM grid.substations WHERE region = 'SA'").fetchone()[0]
    if sa:
        pytest.skip("this session registered SA substations")
    with pytest.raises(grpc.RpcError) as err:
        report(outage_mesh, outages[0], "SA")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_bad_month_and_region_are_invalid_argument_with_their_fields(outage_mesh):
    next_year = dt.date.today().year + 1
    for month, region, fields in (("2026-13", "", ["month"]), ("26-11", "NSW1", ["month", "region"]),
                                  (f"{next_year}-01", "", ["month"])):
        with pytest.raises(grpc.RpcError) as err:
            report(outage_mesh, month, region)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert list(field_violations(err.value)) == fields


def test_rest_returns_the_report_and_400_for_a_bad_month(outages, gateway: RestGateway):
    month, _, after, _ = outages
    status, body = gateway.call(f"/api/v1/reliabilityReports/{month}?region={REGION}")
    assert status == 200, body
    got = body["report"]
    assert int(got["customers_served"]) == after.customers_served
    assert got["unplanned"]["saidi"] == pytest.approx(after.unplanned.saidi)
    assert base64.b64decode(got["html"]) == after.html
    assert base64.b64decode(got["events_csv"]) == after.events_csv
    status, body = gateway.call("/api/v1/reliabilityReports/2026-13")
    assert status == 400 and "month" in str(body)


def test_only_grid_ops_and_analysts_get_the_report(outage_mesh, outages):
    for roles in (("customer_service",), ("meter_head_end",)):
        with pytest.raises(grpc.RpcError) as err:
            report(outage_mesh, outages[0], REGION, roles=roles)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert report(outage_mesh, outages[0], REGION, roles=("analyst",)).customers_served


def test_cli_writes_the_servers_report(outage_mesh, outages, tmp_path):
    from typer.testing import CliRunner

    from meters.cli import app

    month, _, after, _ = outages
    me = outage_mesh.identity(("grid_ops",))
    env = {"METERS_TLS_CA_FILE": me.ca_file, "METERS_TLS_CERT_FILE": me.cert_file, "METERS_TLS_KEY_FILE": me.key_file,
           "METERS_TOKEN": me.token, "METERS_DEV_PLAINTEXT": "1" if me.plaintext else ""}
    result = CliRunner().invoke(app, ["report", "reliability", "--month", month, "--region", REGION, "--server",
                                      outage_mesh.grpc_addr("scoring"), "--out", str(tmp_path)], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"reliability-{month}.html").read_bytes() == after.html
    assert (tmp_path / f"reliability-{month}-events.csv").read_bytes() == after.events_csv
    assert f"{after.customers_served:,} customers served" in result.output
