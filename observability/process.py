"""Running a monitoring program (Prometheus, Alertmanager: Debian packages) as a child process, for
`make up` and the tests: found on PATH or its package named, logs appended to a file, ready when its
HTTP readiness endpoint answers."""

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path


def binary(names: tuple[str, ...], package: str) -> str:
    """The first of `names` on PATH; FileNotFoundError naming the Debian package otherwise."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(f"{names[0]} not installed: apt-get install {package}")


def start(names: tuple[str, ...], package: str, args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([binary(names, package), *args], stdout=out, stderr=out, start_new_session=True)


def get_json(url: str, **params):
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def wait_ready(url: str, proc: subprocess.Popen, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{what} not ready")
