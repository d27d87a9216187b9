"""meters/ray_batch.py on a real two-node Ray cluster on loopback (issue 16): a head and a second
node (`ray start --block`, one CPU each, started and stopped here), the real-series backtests of
forecast_svc/real_evaluation.py as the job. On Ray the results equal the in-process ones array for
array, and a worker process SIGKILLed mid-task has its task run again with the same final result."""

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
from meters.localstack.common import free_port
from meters.ray_batch import run_batch

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
