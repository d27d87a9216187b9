"""Conversions between datetimes, Unix seconds and google.protobuf.Timestamp, in UTC."""

import datetime as dt

from google.protobuf.timestamp_pb2 import Timestamp

from meters.errors import FieldViolation

# pandas computes in nanoseconds since the epoch (pd.Timestamp.min / max: 1677-09-21 / 2262-04-11); a
# request time that goes into pandas must lie in these years, or the call fails deep inside pandas.
PANDAS_FIRST = dt.datetime(1678, 1, 1, tzinfo=dt.timezone.utc)
PANDAS_END = dt.datetime(2262, 1, 1, tzinfo=dt.timezone.utc)


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


def outside_pandas_years(field: str, value: Timestamp) -> FieldViolation | None:
    """A violation for a request time pandas cannot compute with; None when it can."""
    if PANDAS_FIRST <= value.ToDatetime(dt.timezone.utc) < PANDAS_END:
        return None
    return FieldViolation(field, f"must be from {PANDAS_FIRST:%Y-%m-%d} to before {PANDAS_END:%Y-%m-%d}")
