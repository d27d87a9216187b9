from meters.settings import ServiceSettings


class ForecastSettings(ServiceSettings):
    grpc_addr: str = "127.0.0.1:50053"
    metrics_port: int = 9103
    # Consumer group that sums meter-readings into actual demand.
    actuals_group_id: str = "forecast"
    # Confidence level of the bands models are calibrated to.
    interval_level: float = 0.9
    # How often the live scores of the promoted model and the candidate in shadow are re-exported.
    shadow_scores_interval_s: float = 30.0
    # customer_svc, whose regional weather store (observed and forecast) the forecasts of regions use
    # (METERS_CUSTOMER_ADDR).
    customer_addr: str = "127.0.0.1:50054"
    # Deadline of one weather read; past it the forecast falls back to no weather and says so.
    weather_timeout_s: float = 2.0
