"""AcceptedReadings (the `meter-readings` Kafka message) to and from numpy columns, in numpy.

The protobuf runtime turns every packed value into a Python object on the way in and out (`extend(a.tolist())`,
`np.array(msg.field)`): ~0.4 us a reading each way, a sixth of an MDFF import's CPU. Packed repeated fields are
plain bytes on the wire (doubles: 8 little-endian bytes each; integers: base-128 varints), so this module writes
and reads them with array operations. The bytes are exactly what `SerializeToString` writes for the same
message (tests/test_pbcolumns.py checks it), and any message protobuf itself writes reads back the same; one
it cannot read this way (repeated fields not packed, which proto3 writers never produce) goes through the
protobuf runtime instead.
"""

from dataclasses import dataclass

import numpy as np

from meters.ingest.v1 import reading_pb2

# Field numbers (reading.proto): ReadingBatch, then AcceptedReadings.
_BATCH_INTS = (1, 2)  # meter_ids, reading_times_unix_s
_BATCH_DOUBLES = (3, 4, 5, 6, 7, 8)  # consumption_kwh, demand_kw, voltage_v, current_a, power_factor, frequency_hz
_DOUBLE_NAMES = ("consumption_kwh", "demand_kw", "voltage_v", "current_a", "power_factor", "frequency_hz")
_OPTIONAL = 8  # frequency_hz: left out when no reading reports it; read back as None
BATCH, FLAGS, INGESTED_AT, LETTERS, METHOD, REASON, VERSIONS, ORIGIN, ENERGY_ONLY = range(1, 10)
_PACKED_INTS = {FLAGS, METHOD, REASON, VERSIONS}
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5


def varints(values: np.ndarray) -> bytes:
    """The packed-varint payload of integers (int64 / int32 / enum: a negative one takes 10 bytes)."""
    u = np.asarray(values, dtype=np.int64).view(np.uint64)
    if not len(u):
        return b""
    lengths = np.ones(len(u), dtype=np.int64)
    top, width = int(u.max()), 1
    while width < 10 and top >= 1 << (7 * width):
        lengths += u >= np.uint64(1 << (7 * width))
        width += 1
    if lengths[0] == width and (lengths == width).all():  # one width (times, versions): a 2-D array
        out = np.empty((len(u), width), dtype=np.uint8)
        for j in range(width):
            out[:, j] = (u >> np.uint64(7 * j)) & np.uint64(0x7F) | np.uint64(0x80 if j < width - 1 else 0)
        return out.tobytes()
    starts = np.cumsum(lengths) - lengths
    out = np.empty(int(lengths[-1] + starts[-1]), dtype=np.uint8)
    for j in range(width):
        rows = slice(None) if j == 0 else np.flatnonzero(lengths > j)
        byte = (u[rows] >> np.uint64(7 * j)) & np.uint64(0x7F)
        more = (lengths[rows] > j + 1).astype(np.uint64) << np.uint64(7)
        out[starts[rows] + j] = byte | more
    return out.tobytes()


def read_varints(payload) -> np.ndarray:
    """int64 values of a packed-varint payload."""
    b = np.frombuffer(payload, dtype=np.uint8)
    if not len(b):
        return np.zeros(0, dtype=np.int64)
    ends = np.flatnonzero(b < 0x80)
    if not len(ends) or ends[-1] != len(b) - 1:
        raise ValueError("truncated varint")
    width = len(b) // len(ends)
    if width * len(ends) == len(b) and width <= 10 and (ends % width == width - 1).all():  # one width
        rows = (b.reshape(len(ends), width) & 0x7F).astype(np.uint64)
        out = rows[:, 0].copy()
        for j in range(1, width):
            out |= rows[:, j] << np.uint64(7 * j)
        return out.view(np.int64)
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    lengths = ends - starts + 1
    width = int(lengths.max())
    if width > 10:
        raise ValueError("varint longer than 10 bytes")
    out = (b[starts] & 0x7F).astype(np.uint64)
    for j in range(1, width):
        rows = np.flatnonzero(lengths > j)
        out[rows] |= (b[starts[rows] + j] & 0x7F).astype(np.uint64) << np.uint64(7 * j)
    return out.view(np.int64)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes, keep_empty: bool = False) -> bytes:
    """A length-delimited field; an empty one is left out as protobuf does (but for a set submessage)."""
    if not payload and not keep_empty:
        return b""
    return _varint(number << 3 | _LEN) + _varint(len(payload)) + payload


def _doubles(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype="<f8").tobytes()


def reported(values: np.ndarray | None) -> bool:
    """Whether an optional column holds anything: one no reading reports is sent empty."""
    return values is not None and len(values) > 0 and not np.isnan(values).all()


def encode_accepted(cols, flags: np.ndarray, ingested_at_ms: int, quality=None, origin: str = "",
                    energy_only: bool = False) -> bytes:
    """SerializeToString of the AcceptedReadings of `cols` (meters.readings.ReadingColumns) with their
    quality flags, their NEM quality (None or all version-0 actuals: left out) and origin."""
    batch = b"".join([_field(1, varints(cols.meter_ids)), _field(2, varints(cols.reading_times_unix_s)),
                      *(_field(number, _doubles(getattr(cols, name))) for number, name in zip(_BATCH_DOUBLES, _DOUBLE_NAMES)
                        if number != _OPTIONAL or reported(getattr(cols, name)))])
    parts = [_field(BATCH, batch, keep_empty=True), _field(FLAGS, varints(flags))]
    if ingested_at_ms:
        parts.append(_varint(INGESTED_AT << 3) + _varint(ingested_at_ms))
    if quality is not None and not quality.all_actual():
        parts += [_field(LETTERS, np.ascontiguousarray(quality.letters, dtype="S1").tobytes()),
                  _field(METHOD, varints(quality.method_flags)), _field(REASON, varints(quality.reason_codes)),
                  _field(VERSIONS, varints(quality.versions_unix_s))]
    if origin:
        parts.append(_field(ORIGIN, origin.encode()))
    if energy_only:
        parts.append(_varint(ENERGY_ONLY << 3) + b"\x01")
    return b"".join(parts)


@dataclass
class Accepted:
    """The columns of one decoded AcceptedReadings; `letters` empty for streamed actuals."""

    ints: list[np.ndarray]  # meter_ids, reading_times_unix_s (int64)
    doubles: list[np.ndarray | None]  # the six float64 columns; frequency_hz None when not in the message
    flags: np.ndarray  # int64
    letters: np.ndarray  # S1
    method_flags: np.ndarray
    reason_codes: np.ndarray
    versions_unix_s: np.ndarray
    origin: str
    energy_only: bool


class _NotPacked(ValueError):
    pass


def _walk(view: memoryview):
    """(field number, wire type, value: int or memoryview) of each field of one message."""
    at, end = 0, len(view)
    while at < end:
        key, at = _read_varint(view, at)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, at = _read_varint(view, at)
        elif wire == _LEN:
            size, at = _read_varint(view, at)
            if at + size > end:
                raise ValueError("truncated field")
            value, at = view[at:at + size], at + size
        elif wire == _FIXED64:
            value, at = view[at:at + 8], at + 8
        elif wire == _FIXED32:
            value, at = view[at:at + 4], at + 4
        else:
            raise ValueError(f"wire type {wire} is not read here")
        yield number, wire, value


def _read_varint(view: memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(view):
            raise ValueError("truncated varint")
        byte = view[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if byte < 0x80:
            return value, at
        shift += 7


def _packed(pieces: dict[int, list], number: int, wire: int, value) -> None:
    if wire != _LEN:
        raise _NotPacked(number)
    pieces.setdefault(number, []).append(value)


def _read_doubles(payload) -> np.ndarray:
    if len(payload) % 8:
        raise ValueError("packed doubles of a length not a multiple of 8")
    return np.frombuffer(payload, dtype="<f8").astype(np.float64)  # a native, writable copy


def _join(pieces: list | None, read, empty: np.ndarray) -> np.ndarray:
    if not pieces:
        return empty
    return read(pieces[0]) if len(pieces) == 1 else np.concatenate([read(p) for p in pieces])


def decode_accepted(payload: bytes) -> Accepted:
    try:
        return _decode(memoryview(payload))
    except ValueError:  # not packed, or something only the runtime reads (it raises DecodeError if bad)
        return _decode_slowly(payload)


def _decode(view: memoryview) -> Accepted:
    batch: dict[int, list] = {}
    top: dict[int, list] = {}
    origin, energy_only, letters = "", False, []
    for number, wire, value in _walk(view):
        if number == BATCH and wire == _LEN:  # a message may carry it in several pieces: they merge
            for inner, inner_wire, inner_value in _walk(value):
                if inner in _BATCH_INTS or inner in _BATCH_DOUBLES:
                    _packed(batch, inner, inner_wire, inner_value)
        elif number in _PACKED_INTS:
            _packed(top, number, wire, value)
        elif number == LETTERS and wire == _LEN:
            letters = [value]  # bytes: the last one wins
        elif number == ORIGIN and wire == _LEN:
            origin = bytes(value).decode()
        elif number == ENERGY_ONLY and wire == _VARINT:
            energy_only = bool(value)
    no_ints, no_doubles = np.zeros(0, np.int64), np.zeros(0, np.float64)
    return Accepted(
        [_join(batch.get(n), read_varints, no_ints) for n in _BATCH_INTS],
        [_join(batch.get(n), _read_doubles, None if n == _OPTIONAL else no_doubles) for n in _BATCH_DOUBLES],
        _join(top.get(FLAGS), read_varints, no_ints),
        np.frombuffer(letters[0], dtype="S1").copy() if letters else np.zeros(0, "S1"),
        *(_join(top.get(n), read_varints, no_ints) for n in (METHOD, REASON, VERSIONS)),
        origin, energy_only)


def _decode_slowly(payload: bytes) -> Accepted:
    msg = reading_pb2.AcceptedReadings.FromString(payload)
    b = msg.batch
    return Accepted(
        [np.array(b.meter_ids, np.int64), np.array(b.reading_times_unix_s, np.int64)],
        [np.array(getattr(b, n), np.float64) if len(getattr(b, n)) or n != "frequency_hz" else None
         for n in _DOUBLE_NAMES],
        np.array(msg.quality_flags, np.int64), np.frombuffer(msg.quality_letters, "S1").copy(),
        np.array(msg.method_flags, np.int64), np.array(msg.reason_codes, np.int64),
        np.array(msg.versions_unix_s, np.int64), msg.origin, msg.energy_only)
