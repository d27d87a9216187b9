"""Runs a real Prometheus (Debian package `prometheus`) as a child process, for `make up` and the tests."""

import subprocess
import time
from pathlib import Path

from observability import process


def start(config: Path, data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    data_dir.mkdir(parents=True, exist_ok=True)
    return process.start(("prometheus",), "prometheus",
                         [f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
                          f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"], log)


def api(port: int, path: str, **params) -> dict:
    return process.get_json(f"http://127.0.0.1:{port}/api/v1/{path}", **params)


def wait_ready(port: int, proc: subprocess.Popen, timeout_s: float = 30) -> None:
    process.wait_ready(f"http://127.0.0.1:{port}/-/ready", proc, "prometheus", timeout_s)


def wait_scraped(port: int, jobs: set[str], timeout_s: float = 30) -> None:
    """Until every job in `jobs` has been scraped successfully (up == 1)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = api(port, "query", query="up == 1")["data"]["result"]
        if jobs <= {r["metric"]["job"] for r in result}:
            return
        time.sleep(0.5)
    raise TimeoutError(f"prometheus has not scraped all of {sorted(jobs)}")
