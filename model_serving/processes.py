"""KServe's and BentoML's servers as child processes on free loopback ports, for the tests and
bench/serving.py: the same commands `make serve-kserve` / `make serve-bentoml` run.

    with start_kserve(registry_dir, log_dir) as server:   # returns once /v2/health/ready says so
        requests go to server.url
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from meters.localstack.common import LOOPBACK, StartError, free_port

REPO = Path(__file__).resolve().parent.parent
KSERVE_PYTHON = REPO / ".venv" / "kserve" / "bin" / "python"  # made by `make install` (pyproject [tool.meters])
BENTOML = Path(sys.executable).parent / "bentoml"


@dataclass(frozen=True)
class Server:
    name: str
    url: str  # http://127.0.0.1:<port>
    proc: subprocess.Popen
    log: Path
    grpc_address: str = ""  # host:port of KServe's gRPC V2 endpoint


@contextmanager
def start_kserve(registry: Path, log_dir: Path, ready_timeout_s: float = 180, port: int = 0) -> Iterator[Server]:
    """`python -m model_serving.kserve_server` in .venv/kserve, one REST worker, gRPC on a port of its own.
    `port` (default: a free one) lets a restarted server answer where its clients already point."""
    if not KSERVE_PYTHON.exists():
        raise FileNotFoundError(f"{KSERVE_PYTHON} is missing: `make install` creates KServe's venv")
    port, grpc_port = port or free_port(), free_port()
    while grpc_port == port:
        grpc_port = free_port()
    cmd = [str(KSERVE_PYTHON), "-m", "model_serving.kserve_server", "--http_port", str(port),
           "--grpc_port", str(grpc_port), "--model_registry", str(registry)]
    with _running("kserve", cmd, port, "/v2/health/ready", log_dir, ready_timeout_s, {},
                  grpc_address=f"{LOOPBACK}:{grpc_port}") as server:
        yield server


@contextmanager
def start_bentoml(registry: Path, log_dir: Path, ready_timeout_s: float = 180) -> Iterator[Server]:
    """`bentoml serve model_serving.bentoml_service:MeterModels` (one worker)."""
    port = free_port()
    cmd = [str(BENTOML), "serve", "model_serving.bentoml_service:MeterModels", "--host", LOOPBACK,
           "--port", str(port), "--working-dir", str(REPO)]
    env = {"METERS_MODEL_REGISTRY": str(registry), "BENTOML_DO_NOT_TRACK": "True"}
    with _running("bentoml", cmd, port, "/readyz", log_dir, ready_timeout_s, env) as server:
        yield server


@contextmanager
def _running(name: str, cmd: list[str], port: int, ready_path: str, log_dir: Path, ready_timeout_s: float,
             env: dict[str, str], grpc_address: str = "") -> Iterator[Server]:
    log = log_dir / f"{name}-{port}.log"
    with open(log, "wb") as out:
        # A session of its own: BentoML's arbiter starts worker processes, and stop() signals them all.
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **env}, start_new_session=True)
    server = Server(name, f"http://{LOOPBACK}:{port}", proc, log, grpc_address)
    try:
        _wait_ready(server, ready_path, ready_timeout_s)
        yield server
    finally:
        stop(server)


def _wait_ready(server: Server, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise StartError(f"{server.name} exited with {server.proc.returncode} before it was ready", server.log)
        try:
            with urllib.request.urlopen(server.url + path, timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise StartError(f"{server.name} not ready at {server.url}{path} within {timeout_s:.0f} s", server.log)


def stop(server: Server, grace_s: float = 20) -> None:
    """SIGTERM to the server's process group, SIGKILL after `grace_s`."""
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            pass
    try:  # workers may outlive their parent: the group, by its id
        os.killpg(server.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.proc.wait()


def post_json(url: str, body: dict, timeout_s: float = 30) -> tuple[int, object]:
    """(HTTP status, decoded JSON body) of a POST; 4xx and 5xx answers are returned, not raised."""
    return get_json(urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"}),
                    timeout_s)


def get_json(request: str | urllib.request.Request, timeout_s: float = 30) -> tuple[int, object]:
    """(HTTP status, decoded JSON body) of a request (a URL: a GET)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")
