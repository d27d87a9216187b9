"""Declared-but-unbuilt API answers UNIMPLEMENTED with details, unary and streaming alike."""

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from meters.alert.v1 import alert_service_pb2, alert_service_pb2_grpc
from meters.interceptors import ServiceInterceptor
from meters.security.authz import Authorizer
from meters.unimplemented import unimplemented_servicer


@pytest.fixture
async def alert_channel():
    server = grpc.aio.server(interceptors=[ServiceInterceptor(Authorizer(None))])  # development mode: no checks
    service = alert_service_pb2.DESCRIPTOR.services_by_name["AlertService"]
    alert_service_pb2_grpc.add_AlertServiceServicer_to_server(unimplemented_servicer(service), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    await server.stop(0)


def reason_of(err: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(err)
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return info.reason


async def test_unary_and_server_streaming_calls_are_unimplemented(alert_channel):
    stub = alert_service_pb2_grpc.AlertServiceStub(alert_channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListAlerts(alert_service_pb2.ListAlertsRequest())
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED and reason_of(err.value) == "METHOD_NOT_IMPLEMENTED"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in stub.WatchAlerts(alert_service_pb2.WatchAlertsRequest()):
            pass
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
