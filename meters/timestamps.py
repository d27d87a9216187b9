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
