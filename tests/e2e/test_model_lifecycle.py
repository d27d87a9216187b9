"""The forecast model's lifecycle end to end on real PostgreSQL and Kafka: the training scheduler
retrains the network model from the demand measured from streamed readings and puts it in shadow;
live GetDemandForecast calls are answered by the promoted model while the candidate forecasts beside
it; the readings of the forecast day then arrive, both are scored (Prometheus, model and role labels)
and DecideShadowForecastModel promotes the better candidate. A second candidate, trained by the
scheduler on a window where the head-end sent a flat register (corrupted), is refused. Rollback
restores the first model. Registry rows and audit rows are asserted at each step."""

import datetime as dt
import time

import numpy as np
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from forecast_svc.model import DemandModel
from forecast_svc.scopes import network
from forecast_svc.training import register
from meters.forecast.v1 import forecast_model_decision_pb2 as dm_pb
from meters.forecast.v1 import forecast_service_pb2 as pb
from meters.forecast.v1 import forecast_service_pb2_grpc
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest_client import batches, register_meters
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh
from meters.model_lifecycle.digest import folder_digest
from meters.model_lifecycle.scheduler import TrainingScheduler
from meters.model_lifecycle.schedules import SCHEDULES, Job
from meters.model_registry import PROMOTED, SHADOW, ModelRegistry
from meters.readings import from_arrays
from tests.e2e.metrics import metric
from tests.e2e.readings import INTERVAL_S, meters
from tests.rest import RestGateway
from tests.test_forecast_model import synthetic

pytestmark = pytest.mark.infra
FIRST, COUNT, DAYS, CORRUPT_DAYS = 9_400_001, 100, 13, 3
MODEL = "forecast-network"
DAY = 96
T = 60  # timeout of each call, seconds


def fleet_readings(first_step: int, steps: int, end: int):
    """COUNT meters' readings for `steps` intervals from `first_step` of a DAYS-day span ending at `end`:
    a daily shape peaking at 03:00 UTC; the first CORRUPT_DAYS days flat (a head-end repeating each
    meter's mean: the corrupted window)."""
    rng = np.random.default_rng(first_step)
    index = np.arange(first_step, first_step + steps)
    times = end - INTERVAL_S * (DAYS * DAY - 1 - index)  # reading times are the intervals' ends
    hour = (times % 86400) / 3600
    shape = 1 + 0.5 * np.cos(2 * np.pi * (hour - 3) / 24)
    shape = np.where(index < CORRUPT_DAYS * DAY, 1.0, shape)
    base = rng.uniform(3, 7, COUNT)
    kw = np.outer(base, shape) * rng.normal(1, 0.03, (COUNT, steps))
    ids = np.repeat(np.arange(FIRST, FIRST + COUNT), steps)
    v = np.full(ids.size, 235.0)
    kw = kw.ravel()
    return from_arrays(meter_ids=ids, reading_times_unix_s=np.tile(times, COUNT), consumption_kwh=kw / 4,
                       demand_kw=kw, voltage_v=v, current_a=kw * 1000 / (v * 0.95), power_factor=np.full(ids.size, 0.95))


def stream(ingest_channel, cols) -> None:
    reply = ingest_service_pb2_grpc.IngestServiceStub(ingest_channel).StreamReadings(
        iter(list(batches([cols], 5000))), timeout=300)
    assert reply.summary.accepted == len(cols)


def wait_for(what: str, check, timeout_s: float = 600):  # a hang guard, not a speed check
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def measured(db, start: int, end: int) -> int:
    """Readings summed into the network's actuals for steps in (start, end]."""
    return db.execute("SELECT coalesce(sum(readings), 0) FROM forecast.demand_actuals WHERE scope = 1"
                      " AND step_end > to_timestamp(%s) AND step_end <= to_timestamp(%s)", [start, end]).fetchone()[0]


def iso(unix_s: int) -> str:
    return dt.datetime.fromtimestamp(unix_s, dt.timezone.utc).isoformat()


def ts(unix_s: int) -> Timestamp:
    return Timestamp(seconds=unix_s)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    """A stack and mesh of this module's own: the network's measured demand must be this module's
    readings alone (in the full suite the session mesh's network also sums every other test's meters,
    and the promote / refuse figures changed with test order; passed alone, failed in the suite)."""
    base = tmp_path_factory.mktemp("lifecycle-stack")
    base.chmod(0o755)  # the postgres OS user must reach its data dir
    with LocalStack(base / "stack") as stack, Mesh(base / "mesh", stack.pg_dsn, stack.kafka_bootstrap) as m:
        m.start("ingest", "ingest-writer")
        yield m


@pytest.fixture(scope="module")
def ingest_channel(mesh):
    with mesh.channel("ingest") as ch:
        yield ch


@pytest.fixture(scope="module")
def gateway(mesh, forecast):
    mesh.start_gateway()
    return RestGateway(mesh.gateway_url, mesh.https_context(), mesh.token())


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    registry = ModelRegistry(tmp_path_factory.mktemp("lifecycle-registry"))
    series = synthetic(days=9)  # an evening-peaking network: the wrong shape for this fleet
    register(registry, DemandModel.fit(series, network(), calibration_days=0), series)
    return registry


@pytest.fixture(scope="module")
def forecast(mesh, registry):
    env = {"METERS_MODEL_REGISTRY": str(registry.root), "METERS_SHADOW_SCORES_INTERVAL_S": "1"}
    with mesh.serving("forecast", env=env, timeout_s=120), mesh.channel("forecast") as ch:
        yield forecast_service_pb2_grpc.ForecastServiceStub(ch)


def live_traffic(stub, start: int, db=None, shadow: str = "") -> list[str]:
    """Two callers, one after the other, ask for the next day's network demand: answered by the
    promoted model. With a candidate in shadow, each waits for the candidate's forecast of its request
    (computed after the answer), so no two forecasts overlap and the latencies compared are fair."""
    versions = []
    for i in range(2):
        versions.append(stub.GetDemandForecast(pb.GetDemandForecastRequest(
            horizon_hours=24, start_time=ts(start), refresh=True), timeout=T).forecast_run.model_version)
        if shadow:
            wait_for("the candidate's forecast", lambda: shadow_rows(db, shadow) == (i + 1) * DAY)
    return versions


def shadow_rows(db, version: str) -> int:
    return db.execute("SELECT count(*) FROM forecast.shadow_forecasts WHERE role = 'shadow' AND model_version = %s",
                      [version]).fetchone()[0]


def audit(db, action: str) -> list[tuple]:
    return db.execute("SELECT actor, method, outcome, after->>'version' FROM audit.events"
                      " WHERE resource = %s AND action = %s ORDER BY id", [f"models/{MODEL}", action]).fetchall()


def test_retrain_shadow_promote_refuse_rollback(mesh, ingest_channel, forecast, registry):
    end = (int(time.time()) // INTERVAL_S) * INTERVAL_S
    day = lambda d: end - INTERVAL_S * DAY * (DAYS - d)  # the end of day d-1 / start of day d  # noqa: E731
    register_meters(ingest_channel, meters(FIRST, COUNT))
    stream(ingest_channel, fleet_readings(0, 11 * DAY, end))  # days 0-10; days 11 and 12 come "live"
    db = psycopg.connect(mesh.pg_dsn, autocommit=True)
    wait_for("days 0-10 measured", lambda: measured(db, day(0), day(11)) >= COUNT * 11 * DAY)
    first = registry.pointed(MODEL, PROMOTED)

    cron = SCHEDULES["forecast"].cron  # never due during the test: each run is triggered
    scheduler = TrainingScheduler({"METERS_PG_DSN": mesh.pg_dsn, "METERS_MODEL_REGISTRY": str(registry.root)}, [
        Job("forecast", cron, ("train", "forecast", "--data-end", iso(day(11)), "--training-days", "7", "--holdout-days", "1")),
        Job("forecast-corrupt-window", cron,
            ("train", "forecast", "--data-end", iso(day(CORRUPT_DAYS)), "--training-days", "2", "--holdout-days", "1"))])
    scheduler.start()
    try:
        # 1. The scheduler retrains on days 3-10 (7 fitted, 1 held out): the candidate goes into shadow.
        outcome = scheduler.trigger("forecast")
        assert outcome.returncode == 0, outcome.output[-3000:]
        good = registry.pointed(MODEL, SHADOW)
        assert good and good != first and registry.pointed(MODEL, PROMOTED) == first
        run = db.execute("SELECT * FROM model_registry.runs WHERE model = %s AND version = %s", [MODEL, good])
        row = dict(zip([c.name for c in run.description], run.fetchone()))
        assert row["job"] == "schedule" and row["status"] == "succeeded"
        assert row["data_source"] == "forecast.demand_actuals (network)" and row["data_rows"] == 7 * DAY
        assert row["data_start"].timestamp() == day(3) + INTERVAL_S and row["data_end"].timestamp() == day(10)
        assert row["artifact_sha256"] == folder_digest(registry.get(MODEL, good).path)[0]
        assert row["metrics"]["holdout_mape"] > 0 and row["run_key"]
        assert audit(db, "shadow")[-1] == ("system:schedule", "model_lifecycle.shadow", "OK", good)

        # 2. Live traffic for day 11, answered by the promoted model; the candidate forecasts beside it.
        served = live_traffic(forecast, day(11), db, good)
        assert all(v.startswith(first) for v in served), served  # the candidate does not answer
        stream(ingest_channel, fleet_readings(11 * DAY, DAY, end))  # day 11's readings arrive
        wait_for("day 11 measured", lambda: measured(db, day(11), day(12)) >= COUNT * DAY)
        scored = wait_for("live scores on /metrics", lambda: {
            role: metric(mesh, "forecast", "meters_model_live_mape_percent", model=MODEL, role=role)
            for role in ("promoted", "shadow")} if metric(mesh, "forecast", "meters_model_live_scored_steps",
                                                          model=MODEL, role="shadow") == 2 * DAY else None)
        assert scored["shadow"] < scored["promoted"], scored

        # 3. Better on MAPE over the window, no latency regression: promoted.
        decision = forecast.DecideShadowForecastModel(pb.DecideShadowForecastModelRequest(), timeout=T).decision
        assert decision.action == dm_pb.FORECAST_MODEL_DECISION_ACTION_PROMOTE, decision.reason
        print(f"promoted: {decision.reason}; median latency {decision.shadow.median_latency_seconds:.3f} s vs"
              f" {decision.promoted.median_latency_seconds:.3f} s")
        assert (decision.from_version, decision.to_version) == (first, good)
        assert decision.shadow.steps == decision.promoted.steps == 2 * DAY
        assert decision.shadow.mape_percent == pytest.approx(scored["shadow"])
        assert registry.pointed(MODEL, PROMOTED) == good and registry.pointed(MODEL, SHADOW) is None
        actor, method, outcome_, version = audit(db, "promote")[-1]
        assert (method, outcome_, version) == ("/meters.forecast.v1.ForecastService/DecideShadowForecastModel", "OK", good)
        assert not actor.startswith("system:")  # the caller's own identity
        assert all(v.startswith(good) for v in live_traffic(forecast, day(11)))  # now it answers

        # 4. A candidate trained on the corrupted (flat) window of days 0-2, two days fitted (fewer than
        # a week: weekdays it never saw): in shadow, worse, refused.
        outcome = scheduler.trigger("forecast-corrupt-window")
        assert outcome.returncode == 0, outcome.output[-3000:]
        bad = registry.pointed(MODEL, SHADOW)
        assert bad and bad not in (first, good)
        window = db.execute("SELECT data_start, data_end FROM model_registry.runs WHERE version = %s", [bad]).fetchone()
        assert window[1].timestamp() == day(2) and window[0].timestamp() == day(0) + INTERVAL_S
        assert all(v.startswith(good) for v in live_traffic(forecast, day(12), db, bad))
        stream(ingest_channel, fleet_readings(12 * DAY, DAY, end))  # day 12's readings arrive
        wait_for("day 12 measured", lambda: measured(db, day(12), day(13)) >= COUNT * DAY)
        decision = forecast.DecideShadowForecastModel(pb.DecideShadowForecastModelRequest(), timeout=T).decision
        assert decision.action == dm_pb.FORECAST_MODEL_DECISION_ACTION_REFUSE, decision.reason
        print(f"refused: {decision.reason}")
        assert decision.shadow.mape_percent > decision.promoted.mape_percent
        assert registry.pointed(MODEL, PROMOTED) == good and registry.pointed(MODEL, SHADOW) is None
        assert audit(db, "refuse")[-1][1:] == ("/meters.forecast.v1.ForecastService/DecideShadowForecastModel", "OK", bad)
    finally:
        scheduler.stop()

    # 5. Rollback in one call restores the model served before.
    decision = forecast.RollbackForecastModel(pb.RollbackForecastModelRequest(), timeout=T).decision
    assert decision.action == dm_pb.FORECAST_MODEL_DECISION_ACTION_ROLLBACK
    assert (decision.from_version, decision.to_version) == (good, first)
    assert registry.pointed(MODEL, PROMOTED) == first
    assert audit(db, "rollback")[-1][1:] == ("/meters.forecast.v1.ForecastService/RollbackForecastModel", "OK", first)
    actions = db.execute("SELECT action, to_version FROM model_registry.decisions WHERE model = %s ORDER BY id",
                         [MODEL]).fetchall()
    assert actions[-5:] == [("shadow", good), ("promote", good), ("shadow", bad), ("refuse", bad), ("rollback", first)]
    db.close()


def test_decide_and_rollback_over_rest(forecast, registry, gateway):
    """The same calls through the REST gateway (after the test above: its rollback is the latest
    decision, so a second rollback undoes it). No candidate in shadow: 400 FAILED_PRECONDITION."""
    status, body = gateway.call("/api/v1/forecastModels/network:decideShadow", "POST", {})
    assert status == 400 and "no candidate" in body["message"], body
    before = registry.pointed(MODEL, PROMOTED)
    status, body = gateway.call("/api/v1/forecastModels/network:rollback", "POST", {})
    assert status == 200, body
    decision = body["decision"]
    assert decision["action"] == "FORECAST_MODEL_DECISION_ACTION_ROLLBACK"
    assert decision["from_version"] == before and registry.pointed(MODEL, PROMOTED) == decision["to_version"] != before
