"""One server interceptor for every service: authorization, metrics and error mapping.

Every /meters.* call is first checked against the role table (meters.security.authz); the
caller is then known to the servicer and the audit writer through meters.security.identity.
Then the server's bound on calls in flight admits it or refuses it with RESOURCE_EXHAUSTED and a
RetryInfo (meters.admission); health and reflection are never refused, so probes keep answering.

Domain errors become rich statuses (ErrorInfo, BadRequest); anything else
becomes INTERNAL without leaking a traceback to the client. Streaming
responses are wrapped as async generators, the convention of our servicers.
"""

import logging
import time

import grpc
import psycopg
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from meters.admission import Budget
from meters.errors import DOMAIN, DomainError, unavailable
from meters.metrics import GRPC_HANDLED, GRPC_HANDLING_SECONDS
from meters.security.authz import Authorizer
from meters.security.identity import set_caller

log = logging.getLogger(__name__)


def to_rich_status(err: DomainError) -> grpc.Status:
    details = [error_details_pb2.ErrorInfo(reason=err.reason, domain=DOMAIN, metadata=err.metadata)]
    if err.violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in err.violations
                ]
            )
        )
    if err.retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(err.retry_after_s * 1e9))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    details.extend(err.details)
    packed = []
    for d in details:
        a = any_pb2.Any()
        a.Pack(d)
        packed.append(a)
    status = status_pb2.Status(code=err.code.value[0], message=err.message, details=packed)
    return rpc_status.to_status(status)


def _fail_with(err: Exception, context: grpc.aio.ServicerContext, method: str) -> None:
    """Set the call's final status from `err`; the handler then returns and the status is sent.

    Not context.abort(): grpc.aio keeps the AbortError it raises on the call's state, and its
    traceback holds the handler's frames, so every aborted call became a reference cycle holding
    its requests until the cyclic collector ran. Under overload (hundreds of refused 50,000-reading
    batches) that was ~1 GB of garbage in the ingest process.
    """
    if isinstance(err, psycopg.OperationalError):  # the database down, restarting or too slow: retry later
        log.warning("database unavailable in %s: %s", method, type(err).__name__)
        err = database_unavailable(err)
    if isinstance(err, DomainError):
        status = to_rich_status(err)
    else:
        log.exception("unhandled error in %s", method)
        status = rpc_status.to_status(status_pb2.Status(code=code_pb2.INTERNAL, message="internal error"))
    context.set_code(status.code)
    context.set_details(status.details)
    context.set_trailing_metadata(status.trailing_metadata)


def database_unavailable(err: psycopg.OperationalError) -> DomainError:
    """UNAVAILABLE for a database error the caller may retry: a lost or refused connection, the pool's
    wait for one (PoolTimeout), a statement past the service's statement_timeout (QueryCanceled)."""
    if isinstance(err, psycopg.errors.QueryCanceled):
        return unavailable("the database did not answer within the statement timeout; retry", "DATABASE_TIMEOUT")
    return unavailable(f"the database is unavailable ({type(err).__name__}); retry", "DATABASE_UNAVAILABLE")


def _code_name(err: Exception) -> str:
    if isinstance(err, DomainError):
        return err.code.name
    return "UNAVAILABLE" if isinstance(err, psycopg.OperationalError) else "INTERNAL"


def _code_of(context: grpc.aio.ServicerContext, default: str) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return default


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, authorizer: Authorizer, calls: Budget | None = None, prefix: str = "/meters."):
        self._authorizer = authorizer
        self._calls = calls or Budget("rpcs", 1 << 30, 1.0)
        self._prefix = prefix

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or not details.method.startswith(self._prefix):
            return handler
        service, method = details.method[1:].rsplit("/", 1)
        observe = GRPC_HANDLING_SECONDS.labels(service, method)

        def finish(context, started, default_code):
            observe.observe(time.perf_counter() - started)
            GRPC_HANDLED.labels(service, method, _code_of(context, default_code)).inc()

        # grpc.aio runs each call in a task of its own, whose context copy the caller is set in:
        # it cannot leak into another call, so nothing needs resetting.
        authorize, calls = self._authorizer.authorize, self._calls

        def wrap_unary_response(behavior):
            async def wrapped(request_or_iterator, context):
                started, code = time.perf_counter(), "OK"
                try:
                    set_caller(await authorize(details.method, context))
                    with calls.hold():
                        return await behavior(request_or_iterator, context)
                except grpc.aio.AbortError:
                    code = "UNKNOWN"
                    raise
                except Exception as err:  # noqa: BLE001 - mapped to a status below
                    code = _code_name(err)
                    _fail_with(err, context, details.method)
                finally:
                    finish(context, started, code)

            return wrapped

        def wrap_stream_response(behavior):
            async def wrapped(request_or_iterator, context):
                started, code = time.perf_counter(), "OK"
                try:
                    set_caller(await authorize(details.method, context))
                    with calls.hold():
                        async for response in behavior(request_or_iterator, context):
                            yield response
                except grpc.aio.AbortError:
                    code = "UNKNOWN"
                    raise
                except Exception as err:  # noqa: BLE001
                    code = _code_name(err)
                    _fail_with(err, context, details.method)
                finally:
                    finish(context, started, code)

            return wrapped

        kwargs = dict(
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(wrap_unary_response(handler.unary_unary), **kwargs)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(wrap_unary_response(handler.stream_unary), **kwargs)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(wrap_stream_response(handler.unary_stream), **kwargs)
        return grpc.stream_stream_rpc_method_handler(wrap_stream_response(handler.stream_stream), **kwargs)
