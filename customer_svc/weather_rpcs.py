"""The weather forecast RPCs of CustomerService: a provider's feed records forecasts per region; the
forecast service reads a region's observed hours and its latest issue covering a horizon."""

from google.protobuf.timestamp_pb2 import Timestamp

from customer_svc import weather_forecast_store as forecasts
from customer_svc import weather_store
from meters.audit import call as audited
from meters.customer.v1 import customer_service_pb2 as pb
from meters.errors import FieldViolation, invalid_argument
from meters.regions import REGIONS

MAX_OBSERVED_DAYS = 400  # a retrain's window: a year of hours, ~140 kB


def _forecast(msg: pb.RegionalWeatherForecast) -> forecasts.Forecast:
    issued = msg.issue_time.seconds + msg.issue_time.nanos / 1e9 if msg.HasField("issue_time") else 0.0
    return forecasts.Forecast(msg.region, msg.source, issued, list(msg.valid_time_unix_s), list(msg.temperature_c))


def _message(f: forecasts.Forecast) -> pb.RegionalWeatherForecast:
    issued = Timestamp()
    issued.FromNanoseconds(int(round(f.issued_unix_s * 1e6)) * 1000)
    return pb.RegionalWeatherForecast(region=f.region, source=f.source, issue_time=issued,
                                      valid_time_unix_s=f.valid_unix_s, temperature_c=f.temperature_c)


def _span(request: pb.GetRegionalWeatherRequest) -> tuple[int, int, int]:
    bad = []
    if request.region not in REGIONS:
        bad.append(FieldViolation("region", f"a NEM region code: {', '.join(REGIONS)}"))
    for field in ("horizon_start_time", "horizon_end_time"):
        if not request.HasField(field):
            bad.append(FieldViolation(field, "required"))
    start, end = request.horizon_start_time.seconds, request.horizon_end_time.seconds
    if not bad and end <= start:
        bad.append(FieldViolation("horizon_end_time", "must be after horizon_start_time"))
    observed = request.observed_start_time.seconds if request.HasField("observed_start_time") else start
    if observed > start or start - observed > MAX_OBSERVED_DAYS * 86400:
        bad.append(FieldViolation("observed_start_time", f"at most {MAX_OBSERVED_DAYS} days before horizon_start_time"))
    if bad:
        raise invalid_argument("invalid regional weather request", *bad)
    return observed, start, end


class WeatherRpcs:
    async def RecordRegionalWeatherForecasts(self, request, context):
        batch = [_forecast(f) for f in request.forecasts]
        async with audited(self._store.pool, "regionalWeatherForecasts", "record") as change:
            forecasts.validate(batch)
            stored = await forecasts.record(self._store.pool, batch, change)
        return pb.RecordRegionalWeatherForecastsResponse(stored=stored)

    async def GetRegionalWeather(self, request, context):
        observed, start, end = _span(request)
        async with self._store.pool.connection() as conn:
            hours, temps = await weather_store.load_region(conn, request.region, observed, start)
            found = await forecasts.latest_covering(conn, request.region, start, end)
        return pb.GetRegionalWeatherResponse(observed_hour_start_unix_s=hours, observed_temperature_c=temps,
                                             forecast=_message(found) if found else None)
