"""Runs a real Alertmanager (Debian package `prometheus-alertmanager`, binary `prometheus-alertmanager`;
upstream's is `alertmanager`) as a child process, for `make up` and the tests. Gossip is off: one
instance, on loopback only."""

import subprocess
from pathlib import Path

from observability import process

BINARIES = ("prometheus-alertmanager", "alertmanager")
PACKAGE = "prometheus-alertmanager"


def start(config: Path, data_dir: Path, addr: str, log: Path) -> subprocess.Popen:
    data_dir.mkdir(parents=True, exist_ok=True)
    return process.start(BINARIES, PACKAGE, [f"--config.file={config}", f"--storage.path={data_dir}",
                                             f"--web.listen-address={addr}", "--cluster.listen-address="], log)


def wait_ready(addr: str, proc: subprocess.Popen, timeout_s: float = 30) -> None:
    process.wait_ready(f"http://{addr}/-/ready", proc, "alertmanager", timeout_s)


def alerts(addr: str) -> list[dict]:
    """The alerts Alertmanager holds (API v2)."""
    return process.get_json(f"http://{addr}/api/v2/alerts")
