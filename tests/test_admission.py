"""Admission bounds: calls past a server's bound are refused RESOURCE_EXHAUSTED with RetryInfo and
ErrorInfo instead of queued, the bound is released however a call ends, and health keeps answering."""

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from meters.admission import Budget
from meters.errors import DomainError
from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.interceptors import ServiceInterceptor
from meters.security.authz import Authorizer
from meters.status_details import details_of, error_info, retry_delay_s


def test_a_budget_refuses_what_does_not_fit_and_releases_on_error():
    budget = Budget("readings", 10, 0.25)
    with budget.hold(6):
        with pytest.raises(DomainError) as refused:
            with budget.hold(5):
                pass
        assert refused.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and refused.value.retry_after_s == 0.25
        assert refused.value.metadata == {"limit": "readings", "capacity": "10", "requested": "5"}
        with budget.hold(4):
            assert budget.in_use == 10
    with pytest.raises(RuntimeError):
        with budget.hold(10):
            raise RuntimeError("the work failed")
    assert budget.in_use == 0


def test_work_larger_than_the_whole_budget_passes_alone():
    budget = Budget("readings", 10, 1.0)
    with budget.hold(25):  # alone: admitted, or it could never pass
        with pytest.raises(DomainError):
            with budget.hold(1):
                pass
    with budget.hold(1):
        with pytest.raises(DomainError):
            with budget.hold(25):
                pass


class Gate(ingest_service_pb2_grpc.IngestServiceServicer):
    """IngestReadings waits until the test opens the gate; StreamReadings counts its batches."""

    def __init__(self):
        self.entered = asyncio.Event()
        self.open = asyncio.Event()

    async def IngestReadings(self, request, context):
        self.entered.set()
        await self.open.wait()
        return pb.IngestReadingsResponse()

    async def StreamReadings(self, request_iterator, context):
        return pb.StreamReadingsResponse(batches=len([r async for r in request_iterator]))


@pytest.fixture
async def gated():
    gate = Gate()
    server = grpc.aio.server(interceptors=[ServiceInterceptor(Authorizer(None), Budget("rpcs", 1, 0.5))])
    ingest_service_pb2_grpc.add_IngestServiceServicer_to_server(gate, server)
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield gate, channel
    await server.stop(0)


async def test_a_call_past_the_bound_is_refused_with_retry_info_and_health_still_answers(gated):
    gate, channel = gated
    stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
    first = asyncio.ensure_future(stub.IngestReadings(pb.IngestReadingsRequest(), timeout=10))
    await asyncio.wait_for(gate.entered.wait(), 10)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.StreamReadings(iter([pb.StreamReadingsRequest()]), timeout=10)
    err = refused.value
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert retry_delay_s(err) == 0.5
    info = error_info(err)
    assert info.reason == "OVERLOADED" and info.metadata["limit"] == "rpcs" and info.metadata["capacity"] == "1"
    assert len(details_of(err, error_details_pb2.RetryInfo)) == 1

    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING

    gate.open.set()
    await first
    reply = await stub.StreamReadings(iter([pb.StreamReadingsRequest()] * 3), timeout=10)  # the slot is free again
    assert reply.batches == 3


async def test_a_cancelled_call_gives_its_slot_back(gated):
    gate, channel = gated
    stub = ingest_service_pb2_grpc.IngestServiceStub(channel)
    call = stub.IngestReadings(pb.IngestReadingsRequest(), timeout=10)
    await asyncio.wait_for(gate.entered.wait(), 10)
    call.cancel()
    for _ in range(100):  # the server sees the cancellation asynchronously
        try:
            reply = await stub.StreamReadings(iter([pb.StreamReadingsRequest()]), timeout=10)
            break
        except grpc.aio.AioRpcError as err:
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            await asyncio.sleep(0.05)
    else:
        raise AssertionError("the cancelled call kept its slot")
    assert reply.batches == 1
