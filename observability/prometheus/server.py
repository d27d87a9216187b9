"""Runs a real Prometheus (Debian package `prometheus`) as a child process, for `make up` and the tests."""

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path


def start(config: Path, data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    binary = shutil.which("prometheus")
    if binary is None:
        raise FileNotFoundError("prometheus not installed: apt-get install prometheus")
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
            stdout=out, stderr=out, start_new_session=True)


def api(port: int, path: str, **params) -> dict:
    url = f"http://127.0.0.1:{port}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def wait_ready(port: int, proc: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("prometheus not ready")


def wait_scraped(port: int, jobs: set[str], timeout_s: float = 30) -> None:
    """Until every job in `jobs` has been scraped successfully (up == 1)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = api(port, "query", query="up == 1")["data"]["result"]
        if jobs <= {r["metric"]["job"] for r in result}:
            return
        time.sleep(0.5)
    raise TimeoutError(f"prometheus has not scraped all of {sorted(jobs)}")
