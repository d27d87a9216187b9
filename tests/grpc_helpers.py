"""Helpers the gRPC tests share: rich error details, and bounded waits for asynchronous effects."""

import time

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def rich_details(err: grpc.RpcError) -> dict:
    """The BadRequest and ErrorInfo details of a failed call, by type name."""
    out = {}
    for detail in rpc_status.from_call(err).details:
        for kind in (error_details_pb2.BadRequest, error_details_pb2.ErrorInfo):
            if detail.Is(kind.DESCRIPTOR):
                msg = kind()
                detail.Unpack(msg)
                out[kind.__name__] = msg
    return out


def wait_for(fn, timeout_s: float = 60):
    """fn()'s first truthy value, or its last value once the deadline passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = fn()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.3)
