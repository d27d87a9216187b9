from meters.settings import ServiceSettings


class AlertSettings(ServiceSettings):
    grpc_addr: str = "127.0.0.1:50055"
    metrics_port: int = 9105
