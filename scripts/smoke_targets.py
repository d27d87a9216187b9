"""Run each make target's first seconds in this checkout (issue 18: every target works on a fresh clone).

    python3 scripts/smoke_targets.py [TARGET ...]      # default: every target below except `test`

Meant for a clean clone whose `make install` is done (.ci/run calls it after `make test`, which is
the `test` target's run). A target fails when it exits non-zero, prints a Python traceback, or
misses its readiness signal within its budget (a long-running target without one passes when it is
still running cleanly at the end of its budget). Whatever happens, the target's processes are
stopped: SIGINT to its process group (Python's context managers stop the stacks they started), then
SIGTERM and SIGKILL; every process still carrying this run's marker in its environment (servers
started in sessions of their own) is killed and reported; then the target's own clean-up runs
(`make down` after `make up`). Output of each target: .run/smoke/<target>.log.
"""

import argparse
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
LOGS = REPO / ".run" / "smoke"
MARKER = "METERS_SMOKE_RUN"  # in the environment of everything a target starts
TRACEBACK = re.compile(r"^\s*Traceback \(most recent call last\):", re.MULTILINE)
STOP_GRACE_S = 30  # SIGINT, then this long before SIGTERM (a demo stops its mesh and stack)


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as resp:
            return resp.status == 200
    except OSError:  # refused, reset, timeout, HTTP errors (urllib.error.URLError is an OSError)
        return False


def up_gateway_ready(output: str) -> bool:
    """After `make up` returned: the gateway it printed answers /readyz (every backend SERVING)."""
    found = re.search(r"REST (https?://\S+)/api/v1", output)
    if not found:
        return False
    ca = REPO / ".run" / "up" / "mesh" / "pki" / "ca.pem"
    context = ssl.create_default_context(cafile=str(ca)) if found[1].startswith("https") else None
    return http_ok(found[1] + "/readyz", context)


def up_ports() -> tuple[int, ...]:
    """The fixed ports `make up` binds: Prometheus, Jaeger, the stack, the mesh at its default base."""
    from meters.mesh import GATEWAY_OFFSET, ISSUER_OFFSET, SERVICES
    from observability.alertmanager.config import ALERTMANAGER_OFFSET, WEBHOOK_OFFSET
    from observability.prometheus.scrape import DEFAULT_PORT_BASE
    offsets = {GATEWAY_OFFSET, ISSUER_OFFSET, ALERTMANAGER_OFFSET, WEBHOOK_OFFSET}
    offsets |= {o for spec in SERVICES.values() for o in (spec.grpc_offset, spec.metrics_offset) if o is not None}
    return (9090, 4318, 4319, 4320, 4321, *STACK_PORTS, *sorted(DEFAULT_PORT_BASE + o for o in offsets))


def stack_running() -> bool:
    return subprocess.run([sys.executable, "-m", "meters.localstack", "status"], cwd=REPO,
                          capture_output=True).returncode == 0


@dataclass(frozen=True)
class Target:
    budget_s: float
    ports: Callable[[], tuple[int, ...]] = tuple  # fixed ports the target binds: must be free before it starts
    finishes: bool = False  # must exit 0 within the budget (then `after` must hold)
    ready: Callable[[str], bool] | None = None  # polled with the output so far; True: ready, stop it
    after: Callable[[str], bool] | None = None  # checked (within AFTER_S) once a finishing target exited 0
    cleanup: tuple[str, ...] = ()
    stack_owner: bool = False  # starts the shared local stack: stopped after unless it was running before


AFTER_S = 60
STACK_PORTS = (55432, 59092, 59093)  # meters.localstack's defaults (MET_PG_PORT, MET_KAFKA_PORT)
TARGETS = {
    # returns once everything runs; the gateway must then answer /readyz
    "up": Target(300, ports=up_ports, finishes=True, after=up_gateway_ready, cleanup=("make", "down")),
    "bench": Target(60),
    "evaluate": Target(60, ports=lambda: STACK_PORTS, stack_owner=True),
    "demo": Target(60),
    "helm": Target(240, finishes=True),
    "serve-kserve": Target(180, ports=lambda: (8080, 8081),
                           ready=lambda _: http_ok("http://127.0.0.1:8080/v2/health/ready")),
    "serve-bentoml": Target(180, ports=lambda: (3000,), ready=lambda _: http_ok("http://127.0.0.1:3000/readyz")),
    "test": Target(60),
}
DEFAULT = [name for name in TARGETS if name != "test"]  # `make test` is what CI runs before this


def port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def marked_pids(run_id: str) -> list[int]:
    """Processes whose environment carries this run's marker (children in sessions of their own too)."""
    needle = f"{MARKER}={run_id}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if needle in (proc / "environ").read_bytes().split(b"\0"):
                    pids.append(int(proc.name))
            except OSError:  # gone, or not ours to read
                continue
    return pids


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop(proc: subprocess.Popen) -> None:
    """Stop the target's process group: SIGINT (Python's context managers stop what they started), then harder."""
    for sig, wait_s in ((signal.SIGINT, STOP_GRACE_S), (signal.SIGTERM, 10), (signal.SIGKILL, None)):
        if proc.poll() is not None:
            break
        _signal_group(proc.pid, sig)
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            continue
    _signal_group(proc.pid, signal.SIGKILL)  # what is left of its group


def sweep(run_id: str) -> list[int]:
    """Kill every process still carrying this run's marker; their pids (none when the target cleaned up)."""
    leftover = marked_pids(run_id)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in marked_pids(run_id):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while marked_pids(run_id) and time.monotonic() < deadline:
            time.sleep(0.5)
    return leftover


def smoke(name: str, target: Target, log_dir: Path = LOGS, make: tuple[str, ...] = ("make",)) -> tuple[bool, str]:
    """Run `make NAME` for its budget; (passed, one line saying what happened)."""
    busy = [p for p in target.ports() if port_busy(p)]
    if busy:
        return False, f"port {', '.join(map(str, busy))} already in use: stop what holds it first"
    stack_before = stack_running() if target.stack_owner else True
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    run_id = uuid.uuid4().hex
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([*make, name], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env=dict(os.environ, **{MARKER: run_id}))
    try:
        passed, what = _watch(proc, target, log_path, started)
    finally:
        stop(proc)  # a traceback of the KeyboardInterrupt this sends is not the target's: _watch has judged
        with open(log_path, "ab") as log:
            log.write(b"\n== stopped by scripts/smoke_targets.py; clean-up follows\n")
            log.flush()
            if target.cleanup:
                subprocess.run(list(target.cleanup), cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, timeout=120)
            if not stack_before and stack_running():
                subprocess.run([sys.executable, "-m", "meters.localstack", "down"], cwd=REPO, stdout=log,
                               stderr=subprocess.STDOUT, timeout=120)
        leftover = sweep(run_id)
    if leftover:
        what += f"; {len(leftover)} process(es) it started were still running after it stopped, killed"
    return passed, what


def _watch(proc: subprocess.Popen, target: Target, log_path: Path, started: float) -> tuple[bool, str]:
    while True:
        elapsed = time.monotonic() - started
        code = proc.poll()  # before reading: once it exited, the output read is complete
        output = log_path.read_text(errors="replace")
        if TRACEBACK.search(output):
            return False, f"printed a Python traceback after {elapsed:.0f} s"
        if code is not None:
            if code != 0:
                return False, f"exited {code} after {elapsed:.0f} s"
            if target.after is None:
                return True, f"exited 0 after {elapsed:.0f} s"
            deadline = time.monotonic() + AFTER_S
            while not target.after(log_path.read_text(errors="replace")):
                if time.monotonic() > deadline:
                    return False, f"exited 0 after {elapsed:.0f} s, but not ready {AFTER_S} s later"
                time.sleep(1)
            return True, f"exited 0 and ready after {time.monotonic() - started:.0f} s"
        if target.ready is not None and target.ready(output):
            return True, f"ready after {elapsed:.0f} s"
        if elapsed > target.budget_s:
            if target.finishes or target.ready is not None:
                return False, f"not {'done' if target.finishes else 'ready'} within {target.budget_s:.0f} s"
            return True, f"still running cleanly after {target.budget_s:.0f} s"
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help=f"of {', '.join(TARGETS)} (default: all but test)")
    args = parser.parse_args(argv)
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    results = {}
    for name in args.targets or DEFAULT:
        print(f"== make {name} (up to {TARGETS[name].budget_s:.0f} s)", flush=True)
        passed, what = smoke(name, TARGETS[name])
        results[name] = passed
        print(f"   {'ok  ' if passed else 'FAIL'} make {name}: {what}", flush=True)
        if not passed:
            print("   last lines of " + str((LOGS / f"{name}.log").relative_to(REPO)) + ":", flush=True)
            lines = (LOGS / f"{name}.log").read_text(errors="replace").splitlines()[-25:]
            print("\n".join("   | " + line for line in lines), flush=True)
    print(json.dumps(results))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
