from pathlib import Path

from meters.model_registry import DEFAULT_ROOT
from meters.retention_window import RetentionSettings
from meters.settings import ServiceSettings


class ScoringSettings(ServiceSettings, RetentionSettings):
    grpc_addr: str = "127.0.0.1:50052"
    metrics_port: int = 9102
    # alert_svc, where anomalies and failure risks are raised (METERS_ALERT_ADDR).
    alert_addr: str = "127.0.0.1:50055"
    # ingest_svc, asked by the outage detector whether an outage's readings resumed (METERS_INGEST_ADDR).
    ingest_addr: str = "127.0.0.1:50051"
    # The model registry (METERS_MODEL_REGISTRY, as meters.model_registry reads it).
    model_registry: Path = DEFAULT_ROOT
    # The consumer group scoring the meter-readings stream; empty disables the consumer.
    group_id: str = "scoring"
    # Upper bound of Kafka messages scored and written in one database transaction.
    max_messages_per_write: int = 50
    # Seconds between passes over the alert outbox when nothing woke it.
    outbox_poll_s: float = 1.0
    # Base URL of a KServe Open Inference Protocol V2 endpoint serving the `anomaly` / `failure` model
    # (model_serving/kserve_server.py), e.g. http://127.0.0.1:8080 (METERS_ANOMALY_PREDICTOR_URL,
    # METERS_FAILURE_PREDICTOR_URL). Empty: the model runs in this process. docs/serving.md, "Remote predictor".
    anomaly_predictor_url: str = ""
    failure_predictor_url: str = ""
    # Seconds one request to a remote predictor may take (connecting: at most 1 s of it); 3 attempts.
    predictor_timeout_s: float = 10.0
    # Outage detection on the meter-events stream (scoring_svc/outage_stream.py; one replica leads).
    outage_detector: bool = True
    # Overrides of scoring_svc.outages.detector.DetectorConfig, JSON (METERS_OUTAGE_DETECTOR_CONFIG),
    # e.g. {"window_s": 30, "settle_s": 60}.
    outage_detector_config: dict[str, float] = {}
    # Seconds between checkpoints of the detector's state (a restart replays at most this much).
    outage_checkpoint_s: float = 30.0
    # Seconds between asking ingest whether the readings of outages that do not close resumed.
    outage_resume_check_s: float = 30.0
