"""Conversions between datetimes, Unix seconds and google.protobuf.Timestamp, in UTC."""

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp


def to_proto(value: dt.datetime | None) -> Timestamp | None:
    """A Timestamp for an aware datetime; None stays None (an unset field)."""
    if value is None:
        return None
    out = Timestamp()
    out.FromDatetime(value)
    return out


def from_unix(unix_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix_s, dt.timezone.utc)


def to_us(value: dt.datetime) -> int:
    """Microseconds since the epoch, exact (for keyset page tokens over timestamptz columns)."""
    return int(value.timestamp()) * 1_000_000 + value.microsecond


def from_us(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us // 1_000_000, dt.timezone.utc).replace(microsecond=us % 1_000_000)
