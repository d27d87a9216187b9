"""The forecast service: `python -m forecast_svc.server`. Its API (proto/meters/forecast/v1) answers
UNIMPLEMENTED until its domain logic lands; health, reflection and /metrics work."""

import asyncio

from forecast_svc.config import ForecastSettings
from meters import log
from meters.forecast.v1 import forecast_service_pb2, forecast_service_pb2_grpc
from meters.unimplemented import serve_unimplemented

if __name__ == "__main__":
    settings = ForecastSettings()
    log.configure("forecast_svc", settings.log_level)
    asyncio.run(serve_unimplemented(settings, forecast_service_pb2, forecast_service_pb2_grpc, "ForecastService"))
