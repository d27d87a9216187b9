"""Runs a real Jaeger (v2, built from the Go module proxy by scripts/jaeger.sh) as a child process: the
trace back end of `make up` and of the tracing test. OTLP/HTTP on `port`, the query API and UI on
port + 1, its gRPC query on port + 2, health on port + 3; spans in memory."""

import os
import random
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from observability import process

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("METERS_TOOLS_BIN", Path.home() / ".cache" / "meters" / "bin")) / "jaeger"
CONFIG = Path(__file__).with_name("config.yaml")
BUILD = REPO / "scripts" / "jaeger.sh"


@dataclass(frozen=True)
class Jaeger:
    proc: subprocess.Popen
    port: int

    @property
    def otlp_endpoint(self) -> str:
        """What services take as METERS_OTLP_ENDPOINT."""
        return f"http://127.0.0.1:{self.port}/v1/traces"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.port + 1}"

    def stop(self, timeout_s: float = 10) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def trace(self, trace_id: str) -> list[dict]:
        """The spans Jaeger holds for this trace (hex id), each with its service name ([] if none yet)."""
        try:
            data = process.get_json(f"{self.ui_url}/api/traces/{trace_id}")["data"]
        except OSError:  # 404 until the first span of the trace arrives
            return []
        spans = []
        for t in data:
            for s in t["spans"]:
                spans.append({**s, "service": t["processes"][s["processID"]]["serviceName"]})
        return spans


def ensure_binary() -> Path:
    """The Jaeger binary, built once through the Go module proxy (several minutes the first time; then the
    script returns at once)."""
    run = subprocess.run([BUILD], capture_output=True, text=True)
    if run.returncode != 0 or not BINARY.exists():
        raise FileNotFoundError(f"jaeger could not be built by {BUILD} (needs go, Debian golang-go):\n"
                                f"{run.stdout[-2000:]}{run.stderr[-2000:]}")
    return BINARY


def free_port() -> int:
    """A port whose next three are free too (Jaeger listens on port .. port + 3)."""
    while True:
        port = random.randrange(30_000, 40_000, 10)
        try:
            for p in range(port, port + 4):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue


def start(port: int, log: Path) -> Jaeger:
    env = dict(os.environ, JAEGER_OTLP_HTTP=f"127.0.0.1:{port}", JAEGER_QUERY_HTTP=f"127.0.0.1:{port + 1}",
               JAEGER_QUERY_GRPC=f"127.0.0.1:{port + 2}", JAEGER_HEALTH_HTTP=f"127.0.0.1:{port + 3}",
               OTEL_SDK_DISABLED="true")  # no traces of Jaeger's own (it would send them to :4317)
    with open(log, "ab") as out:
        proc = subprocess.Popen([ensure_binary(), "--config", f"file:{CONFIG}"], env=env, stdout=out, stderr=out,
                                start_new_session=True)
    return Jaeger(proc, port)


def wait_ready(jaeger: Jaeger, timeout_s: float = 60) -> None:
    process.wait_ready(f"http://127.0.0.1:{jaeger.port + 3}/status", jaeger.proc, "jaeger", timeout_s)
