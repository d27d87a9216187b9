"""The audit trail through the running mesh: state-changing RPCs of every service write their event
with the caller from the token, ListAuditEvents (hosted by alert_svc) filters and pages them for
platform_admin only, over gRPC and REST."""

import uuid
import urllib.parse

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from meters.alert.v1 import alert_pb2 as apb, alert_service_pb2 as alert_pb, alert_service_pb2_grpc
from meters.audit.v1 import audit_service_pb2 as pb, audit_service_pb2_grpc
from meters.customer.v1 import customer_pb2, customer_service_pb2 as customer_pb, customer_service_pb2_grpc
from meters.customer.v1 import demand_response_event_pb2 as dpb
from meters.deadlines import CALL_S
from meters.forecast.v1 import forecast_service_pb2 as forecast_pb, forecast_service_pb2_grpc, meter_scope_pb2
from meters.ingest.v1 import ingest_service_pb2 as ingest_pb, ingest_service_pb2_grpc, meter_pb2
from meters.scoring.v1 import scoring_service_pb2 as scoring_pb, scoring_service_pb2_grpc, transformer_pb2

pytestmark = pytest.mark.infra

ALERT = "/meters.alert.v1.AlertService/"


def subject(prefix: str) -> str:
    """A token subject of this test alone: the session's mesh is shared, filters on it see only ours."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def audit_stub(mesh, roles=("platform_admin",)):
    return audit_service_pb2_grpc.AuditServiceStub(mesh.channel("alert", roles=list(roles)))


def list_all(stub, **filters) -> list:
    return list(stub.ListAuditEvents(pb.ListAuditEventsRequest(page_size=1000, **filters), timeout=CALL_S).audit_events)


def raise_alert(stub, key: str) -> apb.Alert:
    return stub.CreateAlert(alert_pb.CreateAlertRequest(alert=apb.Alert(
        title="Transformer T-9 overheating", severity=apb.SEVERITY_WARNING,
        source=apb.ALERT_SOURCE_FAILURE_PREDICTION, asset_type=apb.ASSET_TYPE_TRANSFORMER, asset_id=9,
        dedup_key=key)), timeout=CALL_S).alert


def test_acknowledging_an_alert_writes_one_event_with_the_tokens_subject(all_services):
    who = subject("op")
    with all_services.channel("alert", token=all_services.token(["grid_ops"], subject=who)) as ch:
        alerts = alert_service_pb2_grpc.AlertServiceStub(ch)
        alert = raise_alert(alerts, who)
        alerts.AcknowledgeAlert(alert_pb.AcknowledgeAlertRequest(name=alert.name, acknowledged_by="Ada"),
                                timeout=CALL_S)
        alerts.ResolveAlert(alert_pb.ResolveAlertRequest(name=alert.name, resolved_by="Ada",
                                                         resolution_note="fan replaced"), timeout=CALL_S)
        with pytest.raises(grpc.RpcError) as err:  # a second resolve is refused, and recorded as refused
            alerts.ResolveAlert(alert_pb.ResolveAlertRequest(name=alert.name), timeout=CALL_S)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    events = list_all(audit_stub(all_services), resource=alert.name)
    assert [(e.action, e.outcome) for e in events] == [
        ("resolve", "FAILED_PRECONDITION"), ("resolve", "OK"), ("acknowledge", "OK"), ("create", "OK")]
    refused, resolved, ack, created = events
    assert (ack.actor, ack.actor_via, list(ack.actor_roles), ack.peer) == (who, "token", ["grid_ops"], "client")
    assert (ack.service, ack.method) == ("alert", ALERT + "AcknowledgeAlert")
    assert json_format.MessageToDict(ack.before) == {"status": "open"}
    assert json_format.MessageToDict(ack.after) == {"status": "acknowledged", "acknowledged_by": "Ada"}
    assert json_format.MessageToDict(resolved.before) == {"status": "acknowledged"}
    assert json_format.MessageToDict(resolved.after)["resolution_note"] == "fan replaced"
    assert "already resolved" in refused.error_message and not refused.HasField("after")
    assert json_format.MessageToDict(created.after)["status"] == "open" and not created.HasField("before")
    assert created.occurred_at.ToNanoseconds() <= ack.occurred_at.ToNanoseconds()


def test_list_audit_events_filters_and_pages(all_services):
    who = subject("pager")
    with all_services.channel("alert", token=all_services.token(["grid_ops"], subject=who)) as ch:
        alerts = alert_service_pb2_grpc.AlertServiceStub(ch)
        names = [raise_alert(alerts, f"{who}-{i}").name for i in range(5)]
    stub = audit_stub(all_services)
    everything = list_all(stub, actor=who)
    assert [e.resource for e in everything] == names[::-1]  # newest first

    paged, token = [], ""
    while True:
        page = stub.ListAuditEvents(pb.ListAuditEventsRequest(actor=who, page_size=2, page_token=token),
                                    timeout=CALL_S)
        assert len(page.audit_events) <= 2
        paged += page.audit_events
        token = page.next_page_token
        if not token:
            break
    assert [e.name for e in paged] == [e.name for e in everything]

    assert len(list_all(stub, actor=who, method="CreateAlert")) == 5
    assert len(list_all(stub, actor=who, method=ALERT + "CreateAlert")) == 5
    assert list_all(stub, actor=who, method="AcknowledgeAlert") == []
    assert len(list_all(stub, actor=who, service="alert", outcome="OK")) == 5
    assert list_all(stub, actor=who, service="ingest") == []
    assert list_all(stub, actor=who, outcome="INTERNAL") == []
    newest = everything[0].occurred_at
    assert len(list_all(stub, actor=who, start_time=newest)) >= 1
    assert list_all(stub, actor=who, start_time=Timestamp(seconds=newest.seconds + 3600)) == []
    assert list_all(stub, actor=who, end_time=Timestamp(seconds=everything[-1].occurred_at.seconds - 3600)) == []
    with pytest.raises(grpc.RpcError) as err:
        stub.ListAuditEvents(pb.ListAuditEventsRequest(page_token="not-a-token"), timeout=CALL_S)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("role", ["grid_ops", "analyst", "customer_service", "meter_head_end"])
def test_only_platform_admin_reads_the_trail(all_services, role):
    with pytest.raises(grpc.RpcError) as err:
        audit_stub(all_services, [role]).ListAuditEvents(pb.ListAuditEventsRequest(), timeout=CALL_S)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_rest_changes_and_the_trail_through_the_gateway(all_services, gateway):
    who = subject("rest")
    with all_services.channel("alert", roles=["grid_ops"]) as ch:
        alert = raise_alert(alert_service_pb2_grpc.AlertServiceStub(ch), who)
    status, _ = gateway.call(f"/api/v1/{alert.name}:acknowledge", "POST", {"acknowledged_by": "Bo"},
                             token=all_services.token(["grid_ops"], subject=who))
    assert status == 200
    query = urllib.parse.urlencode({"actor": who})
    status, reply = gateway.call(f"/api/v1/auditEvents?{query}", token=all_services.token(["platform_admin"]))
    assert status == 200, reply
    (event,) = reply["audit_events"]
    assert (event["resource"], event["action"], event["peer"]) == (alert.name, "acknowledge", "gateway")
    assert event["after"] == {"status": "acknowledged", "acknowledged_by": "Bo"}
    status, _ = gateway.call(f"/api/v1/auditEvents?{query}", token=all_services.token(["grid_ops"]))
    assert status == 403


def test_every_service_records_its_state_changes(all_services):
    who = subject("admin")
    token = all_services.token(["platform_admin", "grid_ops"], subject=who)
    base = 9_100_000 + uuid.uuid4().int % 100_000 * 10
    with all_services.channel("ingest", token=token) as ch:
        ingest_service_pb2_grpc.IngestServiceStub(ch).BatchCreateMeters(ingest_pb.BatchCreateMetersRequest(
            meters=[meter_pb2.Meter(meter_id=base, meter_number=f"AUDIT-{base}")]), timeout=CALL_S)
    with all_services.channel("scoring", token=token) as ch:
        scoring = scoring_service_pb2_grpc.ScoringServiceStub(ch)
        scoring.BatchCreateSubstations(scoring_pb.BatchCreateSubstationsRequest(
            substations=[transformer_pb2.Substation(substation_id=base)]), timeout=CALL_S)
        scoring.ReloadModels(scoring_pb.ReloadModelsRequest(), timeout=120)
    with all_services.channel("forecast", token=token) as ch:
        forecast_service_pb2_grpc.ForecastServiceStub(ch).BatchCreateMeterScopes(
            forecast_pb.BatchCreateMeterScopesRequest(meter_scopes=[meter_scope_pb2.MeterScope(
                meter_id=base, transformer_id=base, substation_id=base, region="NSW")]), timeout=CALL_S)
    with all_services.channel("customer", token=token) as ch:
        customers = customer_service_pb2_grpc.CustomerServiceStub(ch)
        customers.BatchCreateCustomers(customer_pb.BatchCreateCustomersRequest(
            customers=[customer_pb2.Customer(account_number=f"AUDIT-{base}", meter_ids=[base])]), timeout=CALL_S)
        customers.RecordRegionalWeather(customer_pb.RecordRegionalWeatherRequest(
            regions=["NSW"], hour_start_unix_s=[978_307_200], temperature_c=[21.5]), timeout=CALL_S)
        event = customers.CreateDemandResponseEvent(customer_pb.CreateDemandResponseEventRequest(
            demand_response_event=dpb.DemandResponseEvent(
                event_type=dpb.DEMAND_RESPONSE_EVENT_TYPE_PEAK_REDUCTION, start_time=Timestamp(seconds=4_102_444_800),
                end_time=Timestamp(seconds=4_102_452_000), target_reduction_mw=1.0),
            request_id=who), timeout=CALL_S).demand_response_event

    events = list_all(audit_stub(all_services), actor=who)
    assert {(e.service, e.method.rsplit("/", 1)[1], e.resource, e.outcome) for e in events} == {
        ("ingest", "BatchCreateMeters", "meters", "OK"),
        ("scoring", "BatchCreateSubstations", "substations", "OK"),
        ("scoring", "ReloadModels", "models", "OK"),
        ("forecast", "BatchCreateMeterScopes", "meterScopes", "OK"),
        ("customer", "BatchCreateCustomers", "customers", "OK"),
        ("customer", "RecordRegionalWeather", "regionalWeather", "OK"),
        ("customer", "CreateDemandResponseEvent", event.name, "OK"),
    }
    by_method = {e.method.rsplit("/", 1)[1]: e for e in events}
    assert json_format.MessageToDict(by_method["BatchCreateMeters"].after) == {
        "requested": 1, "created": 1, "already_existed": 0}
    assert set(json_format.MessageToDict(by_method["ReloadModels"].after)) == {"anomaly", "failure"}
    assert by_method["CreateDemandResponseEvent"].request_id == who
