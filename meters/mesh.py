"""Runs the services of the local mesh as child processes.

Used by `make demo`, `make up`, the end-to-end tests and the benchmarks, so
that all of them exercise the same processes a deployment runs. Each process
logs to <run_dir>/<name>.log; readiness is the gRPC health check (or the
/metrics endpoint for processes without a gRPC server).

Secure by default, as a deployment is: the mesh makes a throw-away CA and a certificate per
service in <run_dir>/pki, runs the local token issuer (meters.security.issuer) and starts every
service with TLS, mTLS and token checks on. `Mesh.channel(name, roles)` is how a client of the
mesh (demo, tests, benchmarks) calls it; `secure=False` is the plain-text development mode.
"""

import contextlib
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from meters.security import issuer, pii, pki
from meters.security.client import ClientIdentity
from meters.security.client import channel as client_channel
from meters.security.roles import HUMAN_ROLES


@dataclass(frozen=True)
class ProcessSpec:
    module: str
    grpc_offset: int | None  # added to the mesh's port base; None: no gRPC server
    metrics_offset: int


SERVICES: dict[str, ProcessSpec] = {
    "ingest": ProcessSpec("ingest_svc.server", 1, 101),
    "ingest-writer": ProcessSpec("ingest_svc.writer", None, 106),
    "scoring": ProcessSpec("scoring_svc.server", 2, 102),
    "forecast": ProcessSpec("forecast_svc.server", 3, 103),
    "customer": ProcessSpec("customer_svc.server", 4, 104),
    "alert": ProcessSpec("alert_svc.server", 5, 105),
}

GATEWAY_OFFSET = 80
# A further member of a consumer group ("ingest-writer#2", started with Mesh.start like any process) has
# its metrics on the service's metrics port + MEMBER_METRICS_STEP * (member - 1): 116, 126 for the writer.
MEMBER = "#"
MEMBER_METRICS_STEP = 10
ISSUER_OFFSET = 85  # (+90 is the observability test's Prometheus)
# Certificates the local PKI holds: one per service, the gateway, a client of the mesh (demo, tests,
# CLI: identified by its token, its certificate grants nothing) and a head-end device (grants
# meter_head_end without a token).
CERT_IDENTITIES = ("ingest", "ingest-writer", "scoring", "forecast", "customer", "alert", "gateway", "client",
                   "head-end", "issuer")
GATEWAY_BINARY = Path(__file__).resolve().parent.parent / "build" / "gateway"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port_base() -> int:
    """A base whose every service port is free, so meshes of parallel runs never answer for each other."""
    offsets = [GATEWAY_OFFSET, ISSUER_OFFSET] + [o for s in SERVICES.values() for o in (s.grpc_offset, s.metrics_offset) if o]
    offsets += [s.metrics_offset + MEMBER_METRICS_STEP * k for s in SERVICES.values() if s.grpc_offset is None
                for k in (1, 2)]  # members 2 and 3 of the consumer groups
    while True:
        base = random.randrange(20_000, 30_000, 200)
        if all(_port_free(base + o) for o in offsets):
            return base


def service_and_member(name: str) -> tuple[str, int]:
    """"ingest-writer#2" -> ("ingest-writer", 2); a plain service name is member 1. Only processes
    without a gRPC server (consumer group members) can have more than one member in a mesh."""
    service, _, member = name.partition(MEMBER)
    number = int(member or 1)
    if number < 1 or (number > 1 and SERVICES[service].grpc_offset is not None):
        raise ValueError(f"{name}: only a gRPC-less process can run as a further group member")
    return service, number


def _spec(name: str) -> ProcessSpec:
    """The process spec of a service or of a further member of its group ("ingest-writer#2")."""
    return SERVICES[service_and_member(name)[0]]


class Mesh:
    def __init__(self, run_dir: Path, pg_dsn: str, kafka_bootstrap: str, port_base: int | None = None,
                 secure: bool = True):
        self.run_dir = run_dir
        self.pg_dsn = pg_dsn
        self.kafka_bootstrap = kafka_bootstrap
        self.port_base = port_base or free_port_base()
        self.secure = secure
        self.procs: dict[str, subprocess.Popen] = {}
        self.issuer_proc: subprocess.Popen | None = None
        run_dir.mkdir(parents=True, exist_ok=True)
        self.pki_dir = pki.make_pki(run_dir / "pki", CERT_IDENTITIES)
        (self.pki_dir / issuer.URL_FILE).write_text(self.issuer_url)  # for `meters token`
        self.pii_key_file = pii.write_key(self.pki_dir / "pii.key")

    @property
    def issuer_url(self) -> str:
        return f"https://127.0.0.1:{self.port_base + ISSUER_OFFSET}"

    def token(self, roles=HUMAN_ROLES, subject: str = "mesh-operator", **kwargs) -> str:
        """A token of the local issuer carrying `roles`."""
        return issuer.mint(self.pki_dir, self.issuer_url, list(roles), subject, **kwargs)

    def pii_digest(self, identifier: str) -> str:
        """The keyed hash the services store for a meter number or customer identifier."""
        return pii.PiiKey(self.pii_key_file.read_bytes().strip() if self.secure else pii.DEV_KEY).digest(identifier)

    def identity(self, roles=HUMAN_ROLES, cert: str = "client", token: str | None = None) -> ClientIdentity:
        """TLS with `cert`'s certificate and a token with `roles` (none when roles is None)."""
        if not self.secure:
            return ClientIdentity(plaintext=True)
        if token is None and roles is not None:
            token = self.token(roles)
        return ClientIdentity(str(pki.ca_path(self.pki_dir)), str(pki.cert_path(self.pki_dir, cert)),
                              str(pki.key_path(self.pki_dir, cert)), token or "")

    def client_env(self, roles=HUMAN_ROLES) -> dict[str, str]:
        """What a shell needs to call the mesh (`meters` CLI): certificates and a token."""
        identity = self.identity(roles)
        if identity.plaintext:
            return {"METERS_DEV_PLAINTEXT": "1"}
        return {"METERS_TLS_CA_FILE": identity.ca_file, "METERS_TLS_CERT_FILE": identity.cert_file,
                "METERS_TLS_KEY_FILE": identity.key_file, "METERS_TOKEN": identity.token}

    def channel(self, name: str, roles=HUMAN_ROLES, **kwargs) -> grpc.Channel:
        """A channel to service `name` as a client holding `roles` (every role by default)."""
        return client_channel(self.grpc_addr(name), self.identity(roles, **kwargs))

    def tls_env(self, identity: str) -> dict[str, str]:
        if not self.secure:
            return {"METERS_DEV_PLAINTEXT": "1"}
        return {"METERS_PII_KEY_FILE": str(self.pii_key_file),
                "METERS_TLS_CERT_FILE": str(pki.cert_path(self.pki_dir, identity)),
                "METERS_TLS_KEY_FILE": str(pki.key_path(self.pki_dir, identity)),
                "METERS_TLS_CA_FILE": str(pki.ca_path(self.pki_dir)),
                "METERS_AUTH_JWKS_URL": self.issuer_url + "/jwks.json",
                "METERS_AUTH_ISSUER": self.issuer_url, "METERS_AUTH_AUDIENCE": issuer.AUDIENCE}

    def start_issuer(self, timeout_s: float = 30) -> None:
        """The local token issuer (JWKS over HTTPS), once per mesh."""
        if not self.secure or (self.issuer_proc and self.issuer_proc.poll() is None):
            return
        log = open(self.run_dir / "issuer.log", "ab")
        self.issuer_proc = subprocess.Popen(
            [sys.executable, "-m", "meters.security.issuer", "--pki", str(self.pki_dir),
             "--addr", self.issuer_url.removeprefix("https://")], stdout=log, stderr=log, start_new_session=True)
        context = ssl.create_default_context(cafile=str(pki.ca_path(self.pki_dir)))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.issuer_proc.poll() is not None:
                raise RuntimeError(f"issuer exited:\n{self.log_tail('issuer')}")
            try:
                urllib.request.urlopen(self.issuer_url + "/jwks.json", timeout=1, context=context)
                return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"issuer not ready:\n{self.log_tail('issuer')}")

    def grpc_addr(self, name: str) -> str:
        return f"127.0.0.1:{self.port_base + SERVICES[name].grpc_offset}"

    def metrics_port(self, name: str) -> int:
        service, member = service_and_member(name)
        return self.port_base + SERVICES[service].metrics_offset + MEMBER_METRICS_STEP * (member - 1)

    def env(self, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        service, _ = service_and_member(name)
        spec = _spec(name)
        env = dict(os.environ, **(extra or {}), METERS_PG_DSN=self.pg_dsn, METERS_KAFKA_BOOTSTRAP=self.kafka_bootstrap,
                   METERS_METRICS_PORT=str(self.metrics_port(name)), **self.tls_env(service))
        if spec.grpc_offset is not None:
            env["METERS_GRPC_ADDR"] = self.grpc_addr(name)
        for other, other_spec in SERVICES.items():
            if other_spec.grpc_offset is not None:
                env[f"METERS_{other.upper()}_ADDR"] = self.grpc_addr(other)
        return env

    @property
    def gateway_url(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"{scheme}://127.0.0.1:{self.port_base + GATEWAY_OFFSET}"

    def https_context(self) -> ssl.SSLContext | None:
        """What a REST client needs to trust the gateway's certificate (None in plain-text mode)."""
        return ssl.create_default_context(cafile=str(pki.ca_path(self.pki_dir))) if self.secure else None

    def start_gateway(self, binary: Path = GATEWAY_BINARY, timeout_s: float = 30) -> None:
        """The grpc-gateway REST proxy (built by `make gateway`) in front of the running services."""
        env = dict(os.environ, GATEWAY_ADDR=self.gateway_url.split("://", 1)[1])
        if self.secure:
            env.update(GATEWAY_TLS_CERT=str(pki.cert_path(self.pki_dir, "gateway")),
                       GATEWAY_TLS_KEY=str(pki.key_path(self.pki_dir, "gateway")),
                       GATEWAY_TLS_CA=str(pki.ca_path(self.pki_dir)))
        else:
            env["GATEWAY_DEV_PLAINTEXT"] = "1"
        for name in [n for n in self.procs if n in SERVICES]:
            if SERVICES[name].grpc_offset is not None:
                env[f"{name.upper()}_ADDR"] = self.grpc_addr(name)
        env["GATEWAY_ALLOW_MISSING"] = "1"  # routes of services not started answer 404
        log = open(self.run_dir / "gateway.log", "ab")
        self.procs["gateway"] = subprocess.Popen([str(binary)], env=env, stdout=log, stderr=log,
                                                 start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.procs["gateway"].poll() is not None:
                raise RuntimeError(f"gateway exited:\n{self.log_tail('gateway')}")
            try:
                urllib.request.urlopen(self.gateway_url + "/readyz", timeout=1, context=self.https_context())
                return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"gateway not ready:\n{self.log_tail('gateway')}")

    def start(self, *names: str, timeout_s: float = 60, env: dict[str, str] | None = None) -> None:
        """Start these processes (with `env` over this process's environment); one already running is
        stopped first (a restart, e.g. with new env)."""
        running = [name for name in names if name in self.procs]
        if running:
            self.stop(*running)
        self.start_issuer()
        for name in names:
            log = open(self.run_dir / f"{name}.log", "ab")
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", _spec(name).module], env=self.env(name, env), stdout=log, stderr=log,
                start_new_session=True,
            )
        for name in names:
            self.wait_ready(name, timeout_s)

    @contextlib.contextmanager
    def serving(self, *names: str, env: dict[str, str], timeout_s: float = 60):
        """These services restarted with `env` for the block; afterwards each is as it was before
        (restarted with the default environment if it was running, stopped if not), so a test that
        needs, say, its own model registry leaves the shared mesh whole for the next one."""
        was_running = [name for name in names if name in self.procs]
        self.start(*names, timeout_s=timeout_s, env=env)
        try:
            yield self
        finally:
            self.stop(*names)
            if was_running:
                self.start(*was_running, timeout_s=timeout_s)

    def wait_ready(self, name: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.procs[name].returncode}:\n{self.log_tail(name)}")
            if self._ready(name):
                return
            time.sleep(0.2)
        raise TimeoutError(f"{name} not ready after {timeout_s} s:\n{self.log_tail(name)}")

    def _ready(self, name: str) -> bool:
        try:
            if _spec(name).grpc_offset is None:  # e.g. the writer: ready when /metrics answers
                urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port(name)}/metrics", timeout=1)
                return True
            with client_channel(self.grpc_addr(name), self.identity(roles=None)) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                return reply.status == health_pb2.HealthCheckResponse.SERVING
        except (OSError, grpc.RpcError):
            return False

    def kill(self, name: str) -> None:
        """SIGKILL: the crash case, no clean-up runs."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self, *names: str, timeout_s: float = 15) -> None:
        if not names and self.issuer_proc is not None:
            self.issuer_proc.kill()
            self.issuer_proc.wait()
            self.issuer_proc = None
        for name in names or list(self.procs):
            proc = self.procs.pop(name, None)
            if proc is None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.run_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def __enter__(self) -> "Mesh":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
