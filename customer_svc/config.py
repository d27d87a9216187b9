from meters.settings import ServiceSettings


class CustomerSettings(ServiceSettings):
    grpc_addr: str = "127.0.0.1:50054"
    metrics_port: int = 9104
