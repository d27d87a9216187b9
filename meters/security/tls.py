"""TLS material from files (Kubernetes Secrets mounted as files, or the local harness's PKI).

Servers require a client certificate signed by the mesh's CA (mTLS): the gateway, the services
and devices present theirs; people and applications come with a token on top (identity.py).
"""

from pathlib import Path

import grpc

from meters.settings import ServiceSettings


class TlsNotConfigured(RuntimeError):
    pass


def _read(path: str, what: str) -> bytes:
    if not path:
        raise TlsNotConfigured(f"{what} is not set: give METERS_TLS_CERT_FILE, METERS_TLS_KEY_FILE and "
                               "METERS_TLS_CA_FILE, or METERS_DEV_PLAINTEXT=1 for plain-text development")
    return Path(path).read_bytes()


def server_credentials(settings: ServiceSettings) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(_read(settings.tls_key_file, "tls_key_file"), _read(settings.tls_cert_file, "tls_cert_file"))],
        root_certificates=_read(settings.tls_ca_file, "tls_ca_file"),
        require_client_auth=True,
    )


def channel_credentials(ca_file: str, cert_file: str, key_file: str) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca_file, "tls_ca_file"),
        private_key=_read(key_file, "tls_key_file"),
        certificate_chain=_read(cert_file, "tls_cert_file"),
    )


def service_channel(settings: ServiceSettings, addr: str, options=()) -> grpc.aio.Channel:
    """A channel from this service to another, authenticated by this service's own certificate."""
    if settings.dev_plaintext:
        return grpc.aio.insecure_channel(addr, options=list(options))
    creds = channel_credentials(settings.tls_ca_file, settings.tls_cert_file, settings.tls_key_file)
    return grpc.aio.secure_channel(addr, creds, options=list(options))
