from pathlib import Path

from meters.model_registry import DEFAULT_ROOT
from meters.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    grpc_addr: str = "127.0.0.1:50052"
    metrics_port: int = 9102
    # alert_svc, where anomalies and failure risks are raised (METERS_ALERT_ADDR).
    alert_addr: str = "127.0.0.1:50055"
    # The model registry (METERS_MODEL_REGISTRY, as meters.model_registry reads it).
    model_registry: Path = DEFAULT_ROOT
    # The consumer group scoring the meter-readings stream; empty disables the consumer.
    group_id: str = "scoring"
    # Upper bound of Kafka messages scored and written in one database transaction.
    max_messages_per_write: int = 50
    # Seconds between passes over the alert outbox when nothing woke it.
    outbox_poll_s: float = 1.0
