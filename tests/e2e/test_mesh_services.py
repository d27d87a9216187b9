"""Every service of the mesh starts, reports health, serves reflection and exposes /metrics."""

import urllib.request

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc


pytestmark = pytest.mark.infra
GRPC_SERVICES = {
    "ingest": "meters.ingest.v1.IngestService",
    "scoring": "meters.scoring.v1.ScoringService",
    "forecast": "meters.forecast.v1.ForecastService",
    "customer": "meters.customer.v1.CustomerService",
    "alert": "meters.alert.v1.AlertService",
}


@pytest.mark.parametrize("name", list(GRPC_SERVICES))
def test_health_reflection_and_metrics(all_services, name):
    with all_services.channel(name) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        reply = health.Check(health_pb2.HealthCheckRequest(service=GRPC_SERVICES[name]), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as err:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND

        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        listed = {s.name for r in replies for s in r.list_services_response.service}
        assert GRPC_SERVICES[name] in listed and "grpc.health.v1.Health" in listed

    body = urllib.request.urlopen(f"http://127.0.0.1:{all_services.metrics_port(name)}/metrics", timeout=5).read()
    assert b"grpc_server_handling_seconds" in body
