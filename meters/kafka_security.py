"""How every Kafka client of the platform reaches an external cluster: TLS and SASL from the environment.

METERS_KAFKA_SECURITY_PROTOCOL   PLAINTEXT (default, the local harness), SSL, SASL_SSL or SASL_PLAINTEXT
METERS_KAFKA_CA_FILE             the CA of the brokers' certificates (default: the system trust store)
METERS_KAFKA_CERT_FILE / _KEY_FILE  a client certificate, for clusters that authenticate by mTLS (Strimzi `tls`)
METERS_KAFKA_SASL_MECHANISM      PLAIN (Azure Event Hubs), SCRAM-SHA-256 or SCRAM-SHA-512 (Strimzi `scram-sha-512`)
METERS_KAFKA_SASL_USERNAME / _PASSWORD  from a Secret (the chart's kafka.sasl.existingSecret); Event Hubs:
                                 user `$ConnectionString`, password the namespace's connection string

Read once per client; the Helm chart sets them from kafka.* values (helm/meters/values.yaml).
"""

import os
import ssl

from aiokafka.helpers import create_ssl_context

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def client_options(env: os._Environ | dict[str, str] | None = None) -> dict:
    """Keyword arguments for AIOKafkaProducer / AIOKafkaConsumer / AIOKafkaAdminClient; {} for PLAINTEXT."""
    env = os.environ if env is None else env
    protocol = env.get("METERS_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
    if protocol not in PROTOCOLS:
        raise ValueError(f"METERS_KAFKA_SECURITY_PROTOCOL={protocol}: one of {', '.join(PROTOCOLS)}")
    if protocol == "PLAINTEXT":
        return {}
    options: dict = {"security_protocol": protocol}
    if protocol.endswith("SSL"):
        options["ssl_context"] = _ssl_context(env)
    if protocol.startswith("SASL"):
        mechanism = env.get("METERS_KAFKA_SASL_MECHANISM", "")
        if mechanism not in MECHANISMS:
            raise ValueError(f"METERS_KAFKA_SASL_MECHANISM={mechanism!r}: one of {', '.join(MECHANISMS)}")
        user, password = env.get("METERS_KAFKA_SASL_USERNAME", ""), env.get("METERS_KAFKA_SASL_PASSWORD", "")
        if not user or not password:
            raise ValueError(f"{protocol} needs METERS_KAFKA_SASL_USERNAME and METERS_KAFKA_SASL_PASSWORD")
        options.update(sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=password)
    return options


def _ssl_context(env) -> ssl.SSLContext:
    cert, key = env.get("METERS_KAFKA_CERT_FILE") or None, env.get("METERS_KAFKA_KEY_FILE") or None
    if bool(cert) != bool(key):
        raise ValueError("METERS_KAFKA_CERT_FILE and METERS_KAFKA_KEY_FILE go together")
    return create_ssl_context(cafile=env.get("METERS_KAFKA_CA_FILE") or None, certfile=cert, keyfile=key)
