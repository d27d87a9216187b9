"""How a client outside the mesh (CLI, tests, benchmarks, the demo) calls it: TLS with a client
certificate, and a bearer token on every call.

`ClientIdentity.from_env()` reads METERS_TLS_CA_FILE, METERS_TLS_CERT_FILE, METERS_TLS_KEY_FILE and
METERS_TOKEN (or METERS_TOKEN_FILE); METERS_DEV_PLAINTEXT=1 talks plain text to a development mesh.
"""

import os
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

from meters.security.tls import channel_credentials
from meters.server import CHANNEL_OPTIONS


@dataclass(frozen=True)
class ClientIdentity:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    token: str = ""
    plaintext: bool = False

    @classmethod
    def from_env(cls) -> "ClientIdentity":
        token = os.environ.get("METERS_TOKEN", "")
        if not token and os.environ.get("METERS_TOKEN_FILE"):
            token = Path(os.environ["METERS_TOKEN_FILE"]).read_text().strip()
        return cls(os.environ.get("METERS_TLS_CA_FILE", ""), os.environ.get("METERS_TLS_CERT_FILE", ""),
                   os.environ.get("METERS_TLS_KEY_FILE", ""), token,
                   os.environ.get("METERS_DEV_PLAINTEXT", "").lower() in ("1", "true", "yes"))

    def with_token(self, token: str) -> "ClientIdentity":
        return replace(self, token=token)

    def credentials(self) -> grpc.ChannelCredentials:
        creds = channel_credentials(self.ca_file, self.cert_file, self.key_file)
        if self.token:
            creds = grpc.composite_channel_credentials(creds, grpc.access_token_call_credentials(self.token))
        return creds


def channel(addr: str, identity: ClientIdentity | None = None) -> grpc.Channel:
    identity = identity or ClientIdentity.from_env()
    if identity.plaintext:
        return grpc.insecure_channel(addr, options=CHANNEL_OPTIONS)
    return grpc.secure_channel(addr, identity.credentials(), options=CHANNEL_OPTIONS)


def aio_channel(addr: str, identity: ClientIdentity | None = None) -> grpc.aio.Channel:
    identity = identity or ClientIdentity.from_env()
    if identity.plaintext:
        return grpc.aio.insecure_channel(addr, options=CHANNEL_OPTIONS)
    return grpc.aio.secure_channel(addr, identity.credentials(), options=CHANNEL_OPTIONS)
