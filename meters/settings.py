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
    # Overload (meters/admission.py): /meters.* calls in flight at once; past it a call is refused
    # RESOURCE_EXHAUSTED with a RetryInfo of overload_retry_after_s instead of queuing. Long-lived
    # streams (WatchAlerts) hold a slot while open.
    max_concurrent_rpcs: int = 64
    overload_retry_after_s: float = 1.0
    # Every PostgreSQL session's statement_timeout (meters/db.py); jobs that need longer set it locally.
    pg_statement_timeout_s: float = 30.0

    # The perimeter (meters/security, docs/security.md). TLS with client certificates (mTLS) on every
    # gRPC port and a bearer token or a known certificate on every call, unless dev_plaintext is set.
    dev_plaintext: bool = False  # METERS_DEV_PLAINTEXT=1: no TLS, no tokens. Development only.
    tls_cert_file: str = ""  # this service's certificate (server and mTLS client), PEM
    tls_key_file: str = ""
    tls_ca_file: str = ""  # the CA that signs the mesh's certificates (and the issuer's, locally)
    auth_jwks_url: str = ""  # the OIDC issuer's JWKS, e.g. https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys
    auth_issuer: str = ""
    auth_audience: str = "api://meters"
    # The key of the keyed hashes of customer and meter identifiers (meters/security/pii.py), a file.
    pii_key_file: str = ""
    # A plain-text port serving only grpc.health.v1, for kubelet's native gRPC probes (which speak
    # no TLS); 0: none.
    health_port: int = 0
    reflection: bool = True
    # Traces (meters/tracing.py): an OTLP/HTTP traces endpoint (empty: tracing off), the share of new
    # traces sampled (a caller's sampled trace is always continued), a CA for an https endpoint.
    otlp_endpoint: str = ""
    trace_sample_ratio: float = 0.01
    otlp_ca_file: str = ""
