"""Settings every service shares, read from environment variables (METERS_*).

Each service subclasses `ServiceSettings` in its own config.py with its default
ports; required addresses fail fast at start-up through pydantic validation.
"""

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERS_", extra="ignore")

    pg_dsn: str = "postgresql://postgres@127.0.0.1:55432/meters"
    kafka_bootstrap: str = "127.0.0.1:59092"
    grpc_addr: str = "127.0.0.1:50051"
    metrics_port: int = 9101
    # Loopback by default; 0.0.0.0 in a pod so that Prometheus can scrape it.
    metrics_addr: str = "127.0.0.1"
    log_level: str = "INFO"
    # Seconds a stopping server lets in-flight calls finish.
    shutdown_grace_s: float = 5.0
