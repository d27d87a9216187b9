"""gRPC server bootstrap shared by the five services.

Every service gets the same: grpc.aio server on a TLS port requiring client certificates, with
the authorization/admission/metrics/error interceptor, grpc.health.v1 (SERVING only once start-up
finished, NOT_SERVING while draining; also on a plain-text health-only port for kubelet probes
when health_port is set), server reflection unless switched off, Prometheus /metrics, and a
graceful stop on SIGTERM/SIGINT. Plain text only with dev_plaintext.
"""

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from meters.admission import Budget
from meters.interceptors import ServiceInterceptor
from meters.security import roles
from meters.security.authz import authorizer_for
from meters.security.tls import server_credentials
from meters.settings import ServiceSettings

log = logging.getLogger(__name__)

# 64 MiB: a 100,000-reading columnar batch is ~5.6 MB.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]


@dataclass(frozen=True)
class Registration:
    """One gRPC service to host: its generated add_*_to_server, servicer and full name."""

    add_to_server: Callable[[object, grpc.aio.Server], None]
    servicer: object
    full_name: str


def check_role_table(registrations: Sequence[Registration]) -> None:
    """Refuse to start with a method the role table does not name: no RPC ships open by accident."""
    pool = descriptor_pool.Default()
    hosted = [f"/{reg.full_name}/{m.name}" for reg in registrations
              for m in pool.FindServiceByName(reg.full_name).methods]
    missing = roles.missing_methods(hosted)
    if missing:
        raise RuntimeError(f"methods without roles in meters/security/roles.py: {', '.join(missing)}")


async def serve(
    settings: ServiceSettings,
    registrations: Sequence[Registration],
    background: Sequence[Callable[[], Awaitable[None]]] = (),
    on_stop: Sequence[Callable[[], Awaitable[None]]] = (),
) -> None:
    """Serve until SIGTERM/SIGINT; then drain, stop background tasks and clean up."""
    check_role_table(registrations)
    # No SO_REUSEPORT: a second process on the same port must fail to start, not share the traffic.
    options = [*CHANNEL_OPTIONS, ("grpc.so_reuseport", 0)]
    calls = Budget("rpcs", settings.max_concurrent_rpcs, settings.overload_retry_after_s)
    server = grpc.aio.server(interceptors=[ServiceInterceptor(authorizer_for(settings), calls)], options=options)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for reg in registrations:
        reg.add_to_server(reg.servicer, server)
    names = [reg.full_name for reg in registrations]
    if settings.reflection:
        reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)

    if settings.dev_plaintext:
        log.warning("METERS_DEV_PLAINTEXT: serving plain text without authentication (development only)")
        port = server.add_insecure_port(settings.grpc_addr)
    else:
        port = server.add_secure_port(settings.grpc_addr, server_credentials(settings))
    if port == 0:
        raise RuntimeError(f"cannot bind gRPC address {settings.grpc_addr}")
    probes = None
    if settings.health_port:
        probes = grpc.aio.server(options=options)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, probes)
        host = settings.grpc_addr.rsplit(":", 1)[0]
        if probes.add_insecure_port(f"{host}:{settings.health_port}") == 0:
            raise RuntimeError(f"cannot bind health port {settings.health_port}")
        await probes.start()
    metrics_server, metrics_thread = start_http_server(settings.metrics_port, addr=settings.metrics_addr)
    await server.start()

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    tasks = [asyncio.create_task(job(), name=getattr(job, "__name__", "background")) for job in background]
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving", extra={"fields": {"grpc_addr": settings.grpc_addr, "metrics_port": settings.metrics_port}})

    waiter = asyncio.create_task(stopping.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        if task is not waiter and task.exception():
            log.error("background task failed", exc_info=task.exception())

    log.info("stopping")
    await health_servicer.enter_graceful_shutdown()
    await server.stop(settings.shutdown_grace_s)
    if probes is not None:
        await probes.stop(0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for cleanup in on_stop:
        await cleanup()
    metrics_server.shutdown()
    log.info("stopped")
