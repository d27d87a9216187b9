"""The weather a service forecast of a region uses, from the weather store customer_svc keeps
(CustomerService.GetRegionalWeather over the mesh, with this service's certificate):

- the region's observed hourly temperatures, put on the history's steps (the model's level check,
  its persistence outlook and a retrain learn from them);
- the latest issued weather forecast whose valid times span the horizon, put on the horizon's steps,
  in place of the persistence outlook.

When none spans the horizon (or the store cannot be reached) the forecast falls back to the
persistence outlook and says why: `note` goes into ForecastRun.weather, the
meters_forecast_weather_total counter and a log line. A caller's own weather (the request's) is used
before any of this (forecaster.py)."""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import numpy as np
import pandas as pd
from prometheus_client import Counter
from google.protobuf.timestamp_pb2 import Timestamp

from forecast_svc.weather_input import WeatherGap, at_steps, on_steps
from meters.customer.v1 import customer_service_pb2 as cpb
from meters.customer.v1 import customer_service_pb2_grpc

log = logging.getLogger(__name__)
STEP = pd.Timedelta(minutes=15)
REQUEST = "request"
STORED = "stored"
NONE = "none"
WEATHER_USED = Counter(
    "meters_forecast_weather_total",
    "Network and region forecasts computed, by the weather forecast they used: request (the caller's), stored"
    " (the region's latest stored weather forecast; per region for the network's sum) or none (the persistence"
    " outlook; ForecastRun.weather says why).", ["source"])


@dataclass(frozen=True)
class RegionWeather:
    observed: pd.Series  # degC by UTC instant (the middle of each observed hour); may be empty
    forecast: np.ndarray | None  # degC on the horizon's steps; None = no stored forecast covers it
    note: str  # "stored <source> issued <time>" or "none: <why>"

    def history(self, history: pd.DataFrame) -> pd.DataFrame:
        """history (ds, y) with the observed temperature_c on its steps (NaN where none)."""
        if self.observed.empty or history.empty:
            return history
        return history.assign(temperature_c=at_steps(self.observed, pd.DatetimeIndex(history["ds"]), STEP))


def _ts(t: dt.datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(t)
    return out


def _utc(unix_s) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(unix_s, dtype=np.int64), unit="s", utc=True)


def _iso(t: dt.datetime) -> str:
    return f"{t.astimezone(dt.timezone.utc):%Y-%m-%dT%H:%MZ}"


def unavailable(why: str) -> RegionWeather:
    return RegionWeather(pd.Series(dtype=float), None, f"{NONE}: {why}")


class WeatherStore:
    """customer_svc's regional weather. connect: a new channel to customer_svc; None = no store
    (every forecast falls back, saying so)."""

    def __init__(self, connect: Callable[[], grpc.aio.Channel] | None, timeout_s: float = 2.0):
        self._connect = connect
        self._channel: grpc.aio.Channel | None = None
        self.timeout_s = timeout_s

    async def region(self, code: str, observed_from: dt.datetime, start: dt.datetime, steps: int) -> RegionWeather:
        """The region's observed weather from observed_from to start and its latest stored forecast
        over the `steps` 15-minute steps after start."""
        if self._connect is None:
            return unavailable("no weather store configured")
        end = start + steps * STEP.to_pytimedelta()
        if self._channel is None:
            self._channel = self._connect()
        try:
            reply = await customer_service_pb2_grpc.CustomerServiceStub(self._channel).GetRegionalWeather(
                cpb.GetRegionalWeatherRequest(region=code, observed_start_time=_ts(observed_from),
                                              horizon_start_time=_ts(start), horizon_end_time=_ts(end)),
                timeout=self.timeout_s)
        except grpc.aio.AioRpcError as err:
            log.warning("weather store unavailable: forecasting without weather", extra={"fields": {
                "region": code, "code": err.code().name}})
            return unavailable(f"weather store unavailable ({err.code().name})")
        observed = pd.Series(np.asarray(reply.observed_temperature_c, dtype=float),
                             index=_utc(reply.observed_hour_start_unix_s) + pd.Timedelta(minutes=30))
        if not reply.HasField("forecast"):
            return RegionWeather(observed, None,
                                 f"{NONE}: no stored weather forecast for {code} spans {_iso(start)} to {_iso(end)}")
        f = reply.forecast
        series = pd.Series(np.asarray(f.temperature_c, dtype=float), index=_utc(f.valid_time_unix_s))
        ends = pd.date_range(pd.Timestamp(start) + STEP, periods=steps, freq=STEP)
        issued = f"{f.source} issued {_iso(f.issue_time.ToDatetime(dt.timezone.utc))}"
        try:
            temps = on_steps(series, ends, STEP)
        except WeatherGap as gap:
            return RegionWeather(observed, None, f"{NONE}: the latest stored forecast ({issued}) has a gap: {gap}")
        return RegionWeather(observed, temps, f"{STORED} {issued}")

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()


def count(note: str) -> None:
    """One computed network or region forecast, by the weather it used (the first word of its note)."""
    kind = note.split(" ", 1)[0].rstrip(":")
    WEATHER_USED.labels(kind if kind in (REQUEST, STORED) else NONE).inc()
