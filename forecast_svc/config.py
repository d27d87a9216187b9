from meters.settings import ServiceSettings


class ForecastSettings(ServiceSettings):
    grpc_addr: str = "127.0.0.1:50053"
    metrics_port: int = 9103
