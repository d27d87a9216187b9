"""AIP-158 pagination: page sizes and opaque keyset page tokens."""

import base64
import json

from meters.errors import FieldViolation, invalid_argument


def page_size(requested: int, default: int, maximum: int) -> int:
    if requested < 0:
        raise invalid_argument("page_size must not be negative", FieldViolation("page_size", "must be >= 0"))
    return min(requested or default, maximum)


def encode_token(key: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def decode_token(token: str, arity: int) -> list | None:
    """The keyset position in `token`, or None for the first page."""
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
        if isinstance(key, list) and len(key) == arity and all(isinstance(k, int) for k in key):
            return key
    except ValueError:
        pass
    raise invalid_argument("page_token is not a token this server issued",
                           FieldViolation("page_token", "invalid page token"), reason="INVALID_PAGE_TOKEN")
