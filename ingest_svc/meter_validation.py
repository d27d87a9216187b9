"""What a meter registration must hold before it reaches PostgreSQL: each fault is a field violation
(INVALID_ARGUMENT), not a database error (INTERNAL). The lengths are those of meters.smart_meters."""

from meters.errors import FieldViolation
from meters.ingest.v1 import meter_pb2

MAX_TYPE_CHARS, MAX_STATUS_CHARS = 30, 20  # meter_type VARCHAR(30), status VARCHAR(20)
# 9999-12-31T23:59:59Z: the last second a Python datetime holds (PostgreSQL's timestamptz goes further).
MAX_UNIX_S = 253_402_300_799


def meter_violations(meters: list[meter_pb2.Meter]) -> list[FieldViolation]:
    bad = []
    for i, m in enumerate(meters):
        where = f"meters[{i}]"
        # Blank numbers would all hash alike (the digest ignores surrounding whitespace).
        if m.meter_id <= 0 or not m.meter_number.strip():
            bad.append(FieldViolation(where, "meter_id must be positive and meter_number set"))
        for name, limit in (("meter_type", MAX_TYPE_CHARS), ("status", MAX_STATUS_CHARS)):
            value = getattr(m, name)
            if "\x00" in value:  # PostgreSQL text cannot hold NUL
                bad.append(FieldViolation(f"{where}.{name}", "must not contain NUL characters"))
            if len(value) > limit:
                bad.append(FieldViolation(f"{where}.{name}", f"has {len(value)} characters, at most {limit}"))
        if not 0 <= m.installed_at_unix_s <= MAX_UNIX_S:
            bad.append(FieldViolation(f"{where}.installed_at_unix_s", f"must be 0 (unknown) or a time up to {MAX_UNIX_S}"))
    return bad
