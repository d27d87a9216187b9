"""`make up` / `make down`: the local stack (PostgreSQL, Kafka), every mesh service, a real
Prometheus scraping them with the repo's rules, a real Alertmanager delivering their alerts to
alert_svc's webhook receiver, a real Jaeger receiving every service's traces (OTLP, sampling
METERS_TRACE_SAMPLE_RATIO, default 1 % of new traces), the REST gateway, and the training scheduler (meters/model_lifecycle:
each model retrained on its cron schedule). State and logs in .run/up/; processes keep running
after this command returns, and `down` stops exactly the ones `up` started (pids in .run/up/pids.json;
the stack only if `up` started it).
"""

import argparse
import json
import os
import signal
import time
from pathlib import Path

from meters.localstack.__main__ import stack_from_env
from meters.mesh import SERVICES, Mesh
from meters.model_lifecycle import scheduler as training_scheduler
from meters.security import pki
from observability.alertmanager import config as alertmanager_config
from observability.alertmanager import server as alertmanager
from observability.jaeger import server as jaeger_server
from observability.prometheus import server as prometheus
from observability.prometheus.scrape import DEFAULT_PORT_BASE

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / ".run" / "up"
PIDS = RUN / "pids.json"
STACK_OWNED = RUN / "stack-started-by-up"  # present: `down` stops the stack too (else it was running before)
PROMETHEUS_PORT = int(os.environ.get("MET_PROMETHEUS_PORT", 9090))
JAEGER_PORT = int(os.environ.get("MET_JAEGER_PORT", 4318))  # OTLP/HTTP; the UI on the next port


def up() -> None:
    if PIDS.exists():
        raise SystemExit(f"already up (see {PIDS}); run `make down` first")
    RUN.mkdir(parents=True, exist_ok=True)
    stack = stack_from_env()
    owned = not all(stack.is_running().values())
    stack.start()
    mesh = Mesh(RUN / "mesh", stack.pg_dsn, stack.kafka_bootstrap, port_base=DEFAULT_PORT_BASE)
    am_addr = alertmanager_config.alertmanager_addr(DEFAULT_PORT_BASE)
    am_file, webhook_env = alertmanager_config.write_local(RUN, DEFAULT_PORT_BASE, pki.ca_path(mesh.pki_dir))
    prom = am = scheduler = jaeger = None
    try:
        jaeger = jaeger_server.start(JAEGER_PORT, RUN / "jaeger.log")
        jaeger_server.wait_ready(jaeger)
        traced = {"METERS_OTLP_ENDPOINT": jaeger.otlp_endpoint}
        mesh.start(*[name for name in SERVICES if name != "alert"], env=traced)
        mesh.start("alert", env={**webhook_env, **traced})
        mesh.start_gateway()
        am = alertmanager.start(am_file, RUN / "alertmanager-data", am_addr, RUN / "alertmanager.log")
        alertmanager.wait_ready(am_addr, am)
        prom = prometheus.start(REPO / "observability/prometheus/prometheus.yml", RUN / "prometheus-data",
                                PROMETHEUS_PORT, RUN / "prometheus.log")
        prometheus.wait_ready(PROMETHEUS_PORT, prom)
        scheduler = training_scheduler.spawn(stack.pg_dsn, RUN / "scheduler.log")
    except BaseException:
        mesh.stop()  # stop what this call started, then the stack
        for proc in (prom, am, scheduler, jaeger and jaeger.proc):
            if proc is not None:
                proc.terminate()
        if owned:
            stack.stop()
        raise
    PIDS.write_text(json.dumps({**{name: proc.pid for name, proc in mesh.procs.items()}, "prometheus": prom.pid,
                                "alertmanager": am.pid, "issuer": mesh.issuer_proc.pid,
                                "scheduler": scheduler.pid, "jaeger": jaeger.proc.pid}, indent=2))
    if owned:
        STACK_OWNED.touch()
    env_file = RUN / "client.env"
    env_file.write_text("".join(f"export {k}={v}\n" for k, v in mesh.client_env().items()))
    env_file.chmod(0o600)
    for name in SERVICES:
        print(f"{name:14} grpc {mesh.grpc_addr(name) if SERVICES[name].grpc_offset else '-':18} "
              f"metrics http://127.0.0.1:{mesh.metrics_port(name)}/metrics")
    print(f"gateway        REST {mesh.gateway_url}/api/v1/...")
    print(f"prometheus     http://127.0.0.1:{PROMETHEUS_PORT}  (logs and state in {RUN})")
    print(f"alertmanager   http://{am_addr}  -> alert_svc {alertmanager_config.webhook_url(DEFAULT_PORT_BASE)}")
    print(f"jaeger         {jaeger.ui_url}  (traces of every service; OTLP in at {jaeger.otlp_endpoint})")
    print(f"REST API docs  {mesh.gateway_url}/docs/  (Swagger UI; the description at /openapi.json)")
    print(f"scheduler      training jobs on their cron schedules (`meters model runs <model>`; log {RUN}/scheduler.log)")
    print(f"METERS_PG_DSN={stack.pg_dsn} METERS_KAFKA_BOOTSTRAP={stack.kafka_bootstrap}")
    print(f"TLS and tokens are on: `source {env_file.relative_to(REPO)}` gives the CLI a client certificate and a "
          "token with every role; `meters token --role grid_ops` mints another (README: calling the API)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def down() -> None:
    pids = json.loads(PIDS.read_text()) if PIDS.exists() else {}
    for pid in pids.values():
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids.values():
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    PIDS.unlink(missing_ok=True)
    if STACK_OWNED.exists():  # a stack that was already running (tests, another user's) is left alone
        stack_from_env().stop()
        STACK_OWNED.unlink()
    print("down")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m observability.up", description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    {"up": up, "down": down}[parser.parse_args().command]()
