"""Keyed hashes of customer and meter identifiers (NMIs, meter numbers, account numbers).

Identifiers are turned into HMAC-SHA256 digests at the edge (meter registration, NEM12 import,
customer registration) with a key read from a file (a Kubernetes Secret mounted as a file,
METERS_PII_KEY_FILE): a leaked table cannot be joined back by hashing known NMIs, which an
unsalted sha256 allows. The same key gives the same digest everywhere, so the services can still
join on it. Plain-text development mode (METERS_DEV_PLAINTEXT=1) without a key file uses a fixed,
public development key: never for real data.
"""

import hashlib
import hmac
import secrets
from pathlib import Path

DIGEST_CHARS = 40  # 160 bits of hex: fits the registry's VARCHAR(50) meter_number
DEV_KEY = b"meters-development-key-not-secret"
MIN_KEY_BYTES = 16


class PiiKey:
    def __init__(self, key: bytes):
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the PII key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def from_settings(cls, settings) -> "PiiKey":
        """The key of METERS_PII_KEY_FILE; the development key only in plain-text mode without one."""
        if settings.pii_key_file:
            return cls(Path(settings.pii_key_file).read_bytes().strip())
        if settings.dev_plaintext:
            return cls(DEV_KEY)
        raise SystemExit("no PII key: set METERS_PII_KEY_FILE to a file holding the key (a mounted Secret),"
                         " or METERS_DEV_PLAINTEXT=1 for development")

    def digest(self, identifier: str) -> str:
        """The keyed hash of an identifier (whitespace around it ignored, case kept: NMIs are upper case)."""
        mac = hmac.new(self._key, identifier.strip().encode(), hashlib.sha256)
        return mac.hexdigest()[:DIGEST_CHARS]


def is_digest(value: str) -> bool:
    """Whether a value looks like a digest already (callers that hash before sending are accepted as is)."""
    return len(value) == DIGEST_CHARS and all(c in "0123456789abcdef" for c in value)


def write_key(path: Path) -> Path:
    """A new random key file (for the local harness), readable by its owner only."""
    if not path.exists():
        path.write_bytes(secrets.token_hex(32).encode())
        path.chmod(0o600)
    return path
