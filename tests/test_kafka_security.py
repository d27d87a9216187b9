"""Kafka clients' TLS / SASL settings from the environment (what the chart's kafka.* values set)."""

import ssl

import pytest

from meters.kafka_security import client_options


def test_plaintext_is_the_default_and_adds_nothing():
    assert client_options({}) == {}
    assert client_options({"METERS_KAFKA_SECURITY_PROTOCOL": "plaintext"}) == {}


def test_event_hubs_sasl_ssl_plain():
    options = client_options({"METERS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "METERS_KAFKA_SASL_MECHANISM": "PLAIN",
                              "METERS_KAFKA_SASL_USERNAME": "$ConnectionString",
                              "METERS_KAFKA_SASL_PASSWORD": "Endpoint=sb://ns.servicebus.windows.net/;..."})
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "PLAIN"
    assert options["sasl_plain_username"] == "$ConnectionString"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED and options["ssl_context"].check_hostname


def test_sasl_plaintext_has_no_tls():
    options = client_options({"METERS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                              "METERS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                              "METERS_KAFKA_SASL_USERNAME": "meters", "METERS_KAFKA_SASL_PASSWORD": "pw"})
    assert "ssl_context" not in options and options["sasl_mechanism"] == "SCRAM-SHA-512"


@pytest.mark.parametrize("env, says", [
    ({"METERS_KAFKA_SECURITY_PROTOCOL": "TLS"}, "METERS_KAFKA_SECURITY_PROTOCOL"),
    ({"METERS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "METERS_KAFKA_SASL_MECHANISM": "GSSAPI"}, "MECHANISM"),
    ({"METERS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "METERS_KAFKA_SASL_MECHANISM": "PLAIN",
      "METERS_KAFKA_SASL_USERNAME": "u"}, "PASSWORD"),
    ({"METERS_KAFKA_SECURITY_PROTOCOL": "SSL", "METERS_KAFKA_CERT_FILE": "/x.crt"}, "KEY_FILE"),
])
def test_incomplete_settings_fail_at_start_naming_the_variable(env, says):
    with pytest.raises(ValueError, match=says):
        client_options(env)
