"""The client side of rich errors (AIP-193): the google.rpc details a failed call carries.

Servers put them there through meters.interceptors.to_rich_status: an ErrorInfo on every domain
error, a BadRequest on bad input, a RetryInfo on a retryable refusal (overload).
"""

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def details_of(err: grpc.RpcError, kind: type[Message]) -> list:
    """Every detail of type `kind` (e.g. error_details_pb2.BadRequest) the failed call carried."""
    status = rpc_status.from_call(err) if hasattr(err, "trailing_metadata") else None
    found = []
    for any_detail in status.details if status else ():
        if any_detail.Is(kind.DESCRIPTOR):
            detail = kind()
            any_detail.Unpack(detail)
            found.append(detail)
    return found


def error_info(err: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    infos = details_of(err, error_details_pb2.ErrorInfo)
    return infos[0] if infos else None


def retry_delay_s(err: grpc.RpcError) -> float | None:
    """The delay the server asked for (RetryInfo), or None when the failure is not one to retry."""
    infos = details_of(err, error_details_pb2.RetryInfo)
    return infos[0].retry_delay.ToNanoseconds() / 1e9 if infos else None


def field_violations(err: grpc.RpcError) -> dict[str, str]:
    """BadRequest's field violations, field -> description."""
    return {v.field: v.description for bad in details_of(err, error_details_pb2.BadRequest)
            for v in bad.field_violations}
