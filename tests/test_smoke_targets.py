"""scripts/smoke_targets.py judges real make runs: a Makefile of its own here, with targets that finish,
fail, print a traceback, keep running, never get ready, or leave a server behind in its own session."""

import importlib.util
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("smoke_targets", REPO / "scripts" / "smoke_targets.py")
smoke_targets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(smoke_targets)
Target = smoke_targets.Target

MAKEFILE = """
ok:
\techo done
fails:
\techo no; exit 3
trace:
\tpython3 -c 'raise SystemExit(__import__("json").loads("{"))'
runs:
\techo started; sleep 600
daemon:
\tsetsid sh -c 'echo $$$$ > daemon.pid; exec sleep 600' & echo started; sleep 600
ready:
\techo listening; sleep 600
"""


@pytest.fixture
def run(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text(MAKEFILE.replace("daemon.pid", str(tmp_path / "daemon.pid")))

    def run(name: str, target: Target) -> tuple[bool, str]:
        return smoke_targets.smoke(name, target, log_dir=tmp_path / "logs", make=("make", "-s", "-f", str(makefile)))
    return run


def test_a_finishing_target_passes_and_a_failing_one_fails(run):
    passed, what = run("ok", Target(30, finishes=True))
    assert passed and "exited 0" in what
    passed, what = run("fails", Target(30))
    assert not passed and "exited 2" in what  # make's own status for a failed recipe


def test_a_traceback_fails_even_when_the_target_keeps_running(run):
    passed, what = run("trace", Target(30))
    assert not passed and "traceback" in what


def test_a_long_running_target_passes_after_its_budget_and_is_stopped(run, tmp_path):
    passed, what = run("runs", Target(2))
    assert passed and "still running cleanly" in what
    assert "started" in (tmp_path / "logs" / "runs.log").read_text()


def test_a_readiness_signal_ends_the_run_and_its_absence_fails(run):
    assert run("ready", Target(30, ready=lambda out: "listening" in out))[0]
    passed, what = run("runs", Target(2, ready=lambda out: "listening" in out))
    assert not passed and "not ready" in what


def test_a_process_left_in_a_session_of_its_own_is_found_and_killed(run, tmp_path):
    passed, what = run("daemon", Target(2))
    assert passed and "1 process(es) it started were still running" in what
    pid = int((tmp_path / "daemon.pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_a_busy_fixed_port_is_named_before_anything_starts(run):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        passed, what = run("ok", Target(30, ports=lambda: (port,)))
    assert not passed and f"port {port} already in use" in what

