from meters.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    grpc_addr: str = "127.0.0.1:50052"
    metrics_port: int = 9102
