"""A region's demand forecast with the weather store customer_svc keeps: the real forecast and
customer services (and the gateway) over the harness's PostgreSQL. With no stored weather forecast
the forecast falls back and says so; with one recorded for the region (RecordRegionalWeatherForecasts)
the latest issue spanning the horizon is used, moving the forecast the way the model's temperature
response says; a stored run is not served again once the weather it would use has changed; bad
forecasts and weather short of the horizon are INVALID_ARGUMENT naming the fields (gRPC and REST)."""

import datetime as dt

import grpc
import numpy as np
import pandas as pd
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from forecast_svc.model import DemandModel
from forecast_svc.scopes import region
from forecast_svc.training import register
from meters.customer.v1 import customer_service_pb2 as cpb
from meters.customer.v1 import customer_service_pb2_grpc
from meters.forecast.v1 import forecast_run_pb2 as run_pb
from meters.forecast.v1 import forecast_service_pb2 as pb
from meters.forecast.v1 import forecast_service_pb2_grpc
from meters.model_registry import ModelRegistry
from meters.regions import REGIONS
from meters.status_details import field_violations
from tests.rest import RestGateway
from tests.test_forecast_model import synthetic

pytestmark = pytest.mark.infra
CALL_S = 30
HOT_C, MILD_C = 38.0, 20.0


@pytest.fixture(scope="module")
def nsw(mesh, tmp_path_factory):
    """forecast_svc serving a model trained with temperatures for every region (so the network is
    their sum), customer_svc beside it."""
    series = synthetic(days=9)
    registry = ModelRegistry(tmp_path_factory.mktemp("weather-registry"))
    for code in REGIONS:
        model = DemandModel.fit(series, region(code), calibration_days=0)
        assert model.params.has_temperature
        register(registry, model, series)
    model = DemandModel.load(registry.promoted("forecast-region-NSW").path)
    with mesh.serving("forecast", env={"METERS_MODEL_REGISTRY": str(registry.root)}, timeout_s=120), \
            mesh.serving("customer", env={}), mesh.channel("forecast") as fch, mesh.channel("customer") as cch:
        if "gateway" not in mesh.procs:
            mesh.start_gateway()
        rest = RestGateway(mesh.gateway_url, mesh.https_context(), mesh.token())
        yield (model, series["ds"].iloc[-1].to_pydatetime(), forecast_service_pb2_grpc.ForecastServiceStub(fch),
               customer_service_pb2_grpc.CustomerServiceStub(cch), rest)


def ts(t: dt.datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(t)
    return out


def hourly(start: dt.datetime, hours: int, temp: float) -> dict:
    times = [int((start + dt.timedelta(hours=h)).timestamp()) for h in range(-1, hours + 1)]
    return {"valid_time_unix_s": times, "temperature_c": [temp] * len(times)}


def forecast(region_code: str, source: str, issued: dt.datetime, start: dt.datetime, hours: int, temp: float):
    return cpb.RegionalWeatherForecast(region=region_code, source=source, issue_time=ts(issued),
                                       **hourly(start, hours, temp))


def test_a_region_forecast_uses_its_latest_stored_weather_forecast(nsw, db):
    model, start, fc, customers, _ = nsw
    request = pb.GetDemandForecastRequest(scope=run_pb.FORECAST_SCOPE_REGION, scope_id="NSW", horizon_hours=24,
                                          start_time=ts(start))
    plain = fc.GetDemandForecast(request, timeout=CALL_S).forecast_run
    assert plain.weather.startswith("none: no stored weather forecast for NSW spans"), plain.weather
    assert "stored weather" not in plain.model_version

    stored = customers.RecordRegionalWeatherForecasts(cpb.RecordRegionalWeatherForecastsRequest(forecasts=[
        forecast("NSW", "older-mild", start - dt.timedelta(hours=12), start, 30, MILD_C),
        forecast("NSW", "hot", start - dt.timedelta(hours=6), start, 30, HOT_C),
        # Newest, but 12 h long: it does not span the horizon, so it is not the one used.
        forecast("NSW", "short", start - dt.timedelta(hours=1), start, 12, 10.0),
        forecast("VIC", "hot", start - dt.timedelta(hours=1), start, 30, 10.0),
    ]), timeout=CALL_S).stored
    assert stored == 32 + 32 + 14 + 32
    audit = db.execute("SELECT resource, action, outcome, after->>'values' FROM audit.events"
                       " WHERE method LIKE %s ORDER BY id DESC LIMIT 1", ("%/RecordRegionalWeatherForecasts",)).fetchone()
    assert audit == ("regionalWeatherForecasts", "record", "OK", "110")

    hot = fc.GetDemandForecast(request, timeout=CALL_S).forecast_run
    issued = f"{start - dt.timedelta(hours=6):%Y-%m-%dT%H:%MZ}"
    assert hot.name != plain.name, "the stored no-weather run was served again after a weather forecast arrived"
    assert hot.weather == f"stored hot issued {issued}" and "stored weather forecast used" in hot.model_version
    # The model's own temperature response, in process: at 38 degC it forecasts more than at 20 degC.
    at = pd.Timestamp(start)
    response = (model.forecast(pd.DataFrame({"ds": pd.DatetimeIndex([], tz="UTC"), "y": []}), at, 96,
                               np.full(96, HOT_C))["forecast"].sum()
                - model.forecast(pd.DataFrame({"ds": pd.DatetimeIndex([], tz="UTC"), "y": []}), at, 96,
                                 np.full(96, MILD_C))["forecast"].sum())
    assert response > 0
    served = [p.predicted_mw for p in hot.points]
    baseline = [p.predicted_mw for p in plain.points]
    assert sum(served) > sum(baseline) * 1.05, (sum(served), sum(baseline))
    expected = model.forecast(pd.DataFrame({"ds": pd.DatetimeIndex([], tz="UTC"), "y": []}), at, 96,
                              np.full(96, HOT_C))["forecast"].to_numpy()
    assert served == pytest.approx(expected, rel=1e-6)

    again = fc.GetDemandForecast(request, timeout=CALL_S).forecast_run
    assert again.name == hot.name and again.weather == hot.weather  # same weather: the stored run

    # The weather store's own answer: the newest issue spanning the horizon, VIC's not mixed in.
    got = customers.GetRegionalWeather(cpb.GetRegionalWeatherRequest(
        region="NSW", observed_start_time=ts(start - dt.timedelta(days=1)), horizon_start_time=ts(start),
        horizon_end_time=ts(start + dt.timedelta(hours=24))), timeout=CALL_S)
    assert got.forecast.source == "hot" and set(got.forecast.temperature_c) == {HOT_C}


def test_a_stored_forecast_short_of_the_horizon_falls_back_and_says_so(nsw):
    _, start, fc, customers, _ = nsw
    later = start + dt.timedelta(days=3)
    customers.RecordRegionalWeatherForecasts(cpb.RecordRegionalWeatherForecastsRequest(forecasts=[
        forecast("NSW", "short", later - dt.timedelta(hours=1), later, 12, HOT_C)]), timeout=CALL_S)
    run = fc.GetDemandForecast(pb.GetDemandForecastRequest(
        scope=run_pb.FORECAST_SCOPE_REGION, scope_id="NSW", horizon_hours=24, start_time=ts(later)),
        timeout=CALL_S).forecast_run
    assert run.weather.startswith("none: no stored weather forecast for NSW spans"), run.weather
    assert len(run.points) == 96


def test_the_network_sums_regions_each_with_its_own_stored_weather(nsw):
    """NSW and VIC have weather forecasts spanning the horizon (recorded by the first test), the other
    regions none: the network's run names each region's weather, and only those two use theirs."""
    _, start, fc, _, _ = nsw
    run = fc.GetDemandForecast(pb.GetDemandForecastRequest(horizon_hours=24, start_time=ts(start), refresh=True),
                               timeout=CALL_S).forecast_run
    notes = dict(part.split(" ", 1) for part in run.weather.split("; "))
    assert set(notes) == set(REGIONS), run.weather
    assert notes["NSW"].startswith("stored hot issued") and notes["VIC"].startswith("stored hot issued")
    assert all(notes[code].startswith("none: no stored weather forecast") for code in ("QLD", "SA", "TAS"))
    assert "(stored weather forecast used: NSW, VIC)" in run.model_version, run.model_version


def test_bad_weather_forecasts_are_invalid_argument(nsw):
    _, start, _, customers, rest = nsw
    with pytest.raises(grpc.RpcError) as err:
        customers.RecordRegionalWeatherForecasts(cpb.RecordRegionalWeatherForecastsRequest(forecasts=[
            cpb.RegionalWeatherForecast(region="XX", source="", valid_time_unix_s=[1, 2], temperature_c=[20.0]),
            cpb.RegionalWeatherForecast(region="SA", source="s", issue_time=ts(start),
                                        valid_time_unix_s=[1], temperature_c=[99.0]),
            cpb.RegionalWeatherForecast(region="SA", source="s", issue_time=ts(dt.datetime.now(dt.timezone.utc)
                                                                            + dt.timedelta(days=1)),
                                        valid_time_unix_s=[1, 1], temperature_c=[20.0, 21.0]),
        ]), timeout=CALL_S)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(err.value)) == {
        "forecasts[0].region", "forecasts[0].source", "forecasts[0].issue_time", "forecasts[0].valid_time_unix_s",
        "forecasts[1].temperature_c", "forecasts[2].issue_time", "forecasts[2].valid_time_unix_s"}
    with pytest.raises(grpc.RpcError) as err:
        customers.GetRegionalWeather(cpb.GetRegionalWeatherRequest(region="XX"), timeout=CALL_S)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(err.value)) == {"region", "horizon_start_time", "horizon_end_time"}

    status, body = rest.call("/api/v1/regionalWeatherForecasts:record", "POST", {"forecasts": [{"region": "NSW"}]})
    assert status == 400 and body["code"] == 3, body


def test_the_weather_feed_role_records_and_nothing_else(mesh, nsw):
    _, start, _, _, rest = nsw
    body = {"forecasts": [{"region": "TAS", "source": "feed", "issueTime": f"{start:%Y-%m-%dT%H:%M:%SZ}",
                           "validTimeUnixS": [str(int(start.timestamp()))], "temperatureC": [12.5]}]}
    status, reply = rest.call("/api/v1/regionalWeatherForecasts:record", "POST", body,
                              token=mesh.token(["weather_feed"]))
    assert (status, reply) == (200, {"stored": "1"})
    status, _ = rest.call("/api/v1/regionalWeatherForecasts:record", "POST", body, token=mesh.token(["analyst"]))
    assert status == 403
    status, _ = rest.call("/api/v1/analytics/demand-forecast?scope=FORECAST_SCOPE_REGION&scopeId=NSW",
                          token=mesh.token(["weather_feed"]))
    assert status == 403


def test_weather_over_rest_is_used_and_short_weather_names_the_steps(nsw):
    _, start, _, _, rest = nsw
    at = f"{start:%Y-%m-%dT%H:%M:%SZ}"

    def points(hours):
        return [{"time": f"{start + dt.timedelta(minutes=30 * i):%Y-%m-%dT%H:%M:%SZ}", "temperatureC": 30.0}
                for i in range(hours * 2 + 1)]

    request = {"scope": "FORECAST_SCOPE_REGION", "scopeId": "NSW", "horizonHours": 24, "startTime": at}
    status, body = rest.call("/api/v1/analytics/demand-forecast", "POST", {**request, "weather": points(24)})
    assert status == 200, body
    assert body["forecast_run"]["weather"] == "request" and len(body["forecast_run"]["points"]) == 96
    status, body = rest.call("/api/v1/analytics/demand-forecast", "POST", {**request, "weather": points(12)})
    assert status == 400 and body["code"] == 3, body
    (bad,) = [d for d in body["details"] if d["@type"].endswith("BadRequest")]
    (violation,) = bad["field_violations"]
    assert violation["field"] == "weather" and "46 of 96 steps" in violation["description"], violation
