"""meters/ray_batch.py on a real two-node Ray cluster on loopback (issue 16): a head and a second
node (`ray start --block`, one CPU each, started and stopped here), the real-series backtests of
forecast_svc/real_evaluation.py as the job. On Ray the results equal the in-process ones array for
array, and a worker process SIGKILLed mid-task has its task run again with the same final result.
The VEE job's planning (ingest_svc/vee_job.py: a chunk's meters as tasks) gives the same edits on Ray."""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from forecast_svc import real_backtest as rb
from forecast_svc.real_evaluation import backtests
from forecast_svc.real_series import etth1_series
from ingest_svc.vee_job import Planned, plan_chunk
from ingest_svc.vee_store import StoredReadings
from meters.localstack.common import free_port
from meters.ray_batch import run_batch
from meters.vee.plan import GAP, SPIKE, ZERO_RUN
from tests.test_vee_detect import MONDAY_NEM_MIDNIGHT_UTC, household

ray = pytest.importorskip("ray")
from ray._private.authentication_test_utils import reset_auth_token_state  # noqa: E402  (Ray's own test helper)

RAY = str(Path(sys.executable).with_name("ray"))
NODE_STORE_BYTES = 80 * 1024 * 1024
pytestmark = pytest.mark.timeout(240)


def _node_args(temp_dir: str) -> list[str]:
    return ["--block", "--num-cpus", "1", "--object-store-memory", str(NODE_STORE_BYTES),
            "--node-ip-address", "127.0.0.1", "--disable-usage-stats", "--temp-dir", temp_dir,
            "--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
            "--metrics-export-port", str(free_port()), "--runtime-env-agent-port", str(free_port())]


@pytest.fixture(scope="module")
def cluster():
    """Address of a head plus one more node, token authentication on (the token in this process's
    environment for the driver); every process they start is killed afterwards."""
    auth = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    saved = {k: os.environ.get(k) for k in auth}
    os.environ.update(auth)
    reset_auth_token_state()  # this process read RAY_AUTH_* when ray was imported
    env = dict(os.environ)
    temp_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    address = f"127.0.0.1:{free_port()}"
    procs = [subprocess.Popen([RAY, "start", "--head", "--port", address.split(":")[1], "--include-dashboard=false",
                               "--ray-client-server-port", str(free_port()), *_node_args(temp_dir)],
                              env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)]
    try:
        _wait_nodes(address, 1, procs)
        procs.append(subprocess.Popen([RAY, "start", "--address", address, *_node_args(temp_dir)], env=env,
                                      start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        _wait_nodes(address, 2, procs)
        yield address
    finally:
        for p in reversed(procs):  # `ray start --block` stops the processes it started on SIGTERM
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)  # anything of that node's process group still alive
            except ProcessLookupError:
                pass
        shutil.rmtree(temp_dir, ignore_errors=True)
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        reset_auth_token_state()


def _wait_nodes(address: str, n: int, procs: list, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"ray start exited {p.returncode}: {p.stderr.read().decode()[-2000:]}")
        try:
            ray.init(address=address, logging_level="error", log_to_driver=False)
            alive = sum(1 for node in ray.nodes() if node["Alive"])
            ray.shutdown()
            if alive >= n:
                return
        except ConnectionError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{n} Ray nodes not alive at {address} within {timeout_s} s")


@pytest.fixture(scope="module")
def series():
    return etth1_series()[:2]


@pytest.fixture(scope="module")
def in_process(series):
    return backtests(series, folds=1, fold_days=1)


def _assert_same(got: list[rb.Result], want: list[rb.Result]) -> None:
    assert [r.series.name for r in got] == [r.series.name for r in want]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.origins, w.origins)
        assert g.forecasts.keys() == w.forecasts.keys()
        for m in w.forecasts:
            np.testing.assert_array_equal(g.forecasts[m], w.forecasts[m])
        np.testing.assert_array_equal(g.lower, w.lower)
        np.testing.assert_array_equal(g.upper, w.upper)
        assert g.notes == w.notes
        assert g.figures() == w.figures()


def test_in_process_keeps_order_and_raises():
    assert run_batch(str.upper, ["a", "b", "c"], progress=False) == ["A", "B", "C"]
    with pytest.raises(ZeroDivisionError):
        run_batch(lambda x: 1 / x, [1, 0], progress=False)


def test_ray_result_equals_in_process(cluster, series, in_process):
    _assert_same(backtests(series, folds=1, ray_address=cluster, fold_days=1), in_process)


def _reporting_backtest(pid_dir: str, s):
    """The job's task, first leaving `<series>.<worker pid>` behind so the test can kill it mid-task."""
    Path(pid_dir, f"{s.name}.{os.getpid()}").touch()
    return rb.run(s, folds=1, fold_days=1)


def test_killed_worker_task_is_retried(cluster, series, in_process, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    victim = series[0].name
    killed = []

    def kill_first_worker():
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not killed:
            for f in tmp_path.glob(f"{victim}.*"):
                pid = int(f.suffix[1:])
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_worker, daemon=True)
    killer.start()
    got = run_batch(partial(_reporting_backtest, str(tmp_path)), series, cluster, progress=False)
    killer.join(timeout=5)
    assert killed, "no worker reported its pid"
    attempts = sorted(int(f.suffix[1:]) for f in tmp_path.glob(f"{victim}.*"))
    assert len(attempts) >= 2 and killed[0] in attempts, attempts  # run again in another worker process
    _assert_same(got, in_process)


VEE_METERS = 14
VEE_DAYS = 21


@pytest.fixture(scope="module")
def vee_chunk() -> tuple[StoredReadings, tuple[int, int], int]:
    """A chunk of meters as the job reads it: gaps, spikes, short and too-long zero runs, a meter
    with no actuals; the window is the last week, the rest history."""
    ids, ends, kwh, quality = [], [], [], []
    for m in range(VEE_METERS):
        k = household(VEE_DAYS, seed=m)
        e = MONDAY_NEM_MIDNIGHT_UTC + 1800 * np.arange(1, len(k) + 1)
        q = np.full(len(k), "A")
        last_week = len(k) - 7 * 48 + m * 17
        k[last_week] = 30.0 + m  # a spike
        k[last_week + 40:last_week + 40 + 2 + m % 5] = 0.0  # a short zero run
        if m % 4 == 3:
            k[last_week + 100:last_week + 160] = 0.0  # 30 h of zeros: left for a person
        if m == 5:
            q[:] = "S"  # no actuals: nothing to plan from
        keep = np.ones(len(k), bool)
        keep[last_week + 200:last_week + 203 + m] = False  # a gap
        ids.append(np.full(keep.sum(), 100 + m, np.int64))
        ends.append(e[keep]), kwh.append(k[keep]), quality.append(q[keep])
    all_ends = np.concatenate(ends)
    window = (int(all_ends.max()) - 7 * 86_400, int(all_ends.max()) + 1)
    return (StoredReadings(np.concatenate(ids), all_ends, np.concatenate(kwh), np.concatenate(quality)), window,
            int(all_ends.max()))


def _assert_same_plan(got: Planned, want: Planned) -> None:
    assert (got.meters, got.left_suspect) == (want.meters, want.left_suspect)
    assert [(m, i) for m, i, _ in got.parts] == [(m, i) for m, i, _ in want.parts]
    for (_, _, g), (_, _, w) in zip(got.parts, want.parts, strict=True):
        for name in ("ends_s", "kwh", "method", "quality", "reason", "before_kwh"):
            np.testing.assert_array_equal(getattr(g, name), getattr(w, name))
        assert (g.left_suspect, g.counts) == (w.left_suspect, w.counts)


def test_vee_plans_on_ray_equal_in_process(cluster, vee_chunk):
    stored, window, now_s = vee_chunk
    whole = plan_chunk(stored, window, now_s, task_meters=VEE_METERS)  # one task, this process
    assert whole.meters == VEE_METERS and whole.left_suspect > 0
    reasons = np.concatenate([e.reason for *_, e in whole.parts])
    assert {GAP, SPIKE, ZERO_RUN} <= set(reasons.tolist()) and 100 + 5 not in [m for m, *_ in whole.parts]
    _assert_same_plan(plan_chunk(stored, window, now_s, task_meters=3), whole)  # 5 tasks, this process
    _assert_same_plan(plan_chunk(stored, window, now_s, ray_address=cluster, task_meters=3), whole)  # 5 Ray tasks
