"""meters.pbcolumns writes the bytes protobuf writes for an AcceptedReadings, and reads back what protobuf
wrote: every column, negative and 10-byte varints, NaN, empty columns, quality or none, merged pieces."""

import numpy as np
import pytest

from meters.ingest.v1 import reading_pb2
from meters.pbcolumns import decode_accepted, encode_accepted, read_varints, varints
from meters.readings import ReadingColumns, ReadingQuality, from_accepted, from_accepted_with_quality, to_batch

EDGES = np.array([0, 1, 127, 128, 16383, 16384, 2**31 - 1, 2**31, 2**62, 2**63 - 1, -1, -128, -2**63], np.int64)


def _columns(rng, n: int) -> ReadingColumns:
    ints = [np.concatenate([EDGES, rng.integers(-2**40, 2**40, n)])[:n] for _ in range(2)]
    doubles = [rng.normal(size=n) for _ in range(5)]
    doubles[2][::3] = np.nan
    doubles[3][1::4] = np.inf
    return ReadingColumns(*ints, *doubles)


def _quality(rng, n: int) -> ReadingQuality:
    return ReadingQuality(rng.choice(np.array([b"A", b"S", b"F", b"E"], "S1"), n),
                          rng.integers(-5, 80, n).astype(np.int16), rng.integers(0, 300, n).astype(np.int16),
                          rng.integers(0, 2**33, n))


def _by_protobuf(cols, flags, at_ms, quality, origin, energy_only) -> bytes:
    msg = reading_pb2.AcceptedReadings(batch=to_batch(cols), quality_flags=flags.tolist(), ingested_at_unix_ms=at_ms,
                                       origin=origin, energy_only=energy_only)
    if quality is not None and not quality.all_actual():
        msg.quality_letters = quality.letters.tobytes()
        msg.method_flags.extend(quality.method_flags.tolist())
        msg.reason_codes.extend(quality.reason_codes.tolist())
        msg.versions_unix_s.extend(quality.versions_unix_s.tolist())
    return msg.SerializeToString()


@pytest.mark.parametrize("n", [0, 1, 13, 2000])
@pytest.mark.parametrize("with_quality", [False, True])
def test_the_bytes_are_protobufs_and_read_back(n, with_quality):
    rng = np.random.default_rng(n)
    cols, flags = _columns(rng, n), rng.integers(0, 3, n)
    quality = _quality(rng, n) if with_quality else None
    for at_ms, origin, energy_only in [(0, "", False), (1_765_000_000_123, "nem12-import", True), (-5, "vee/gap", False)]:
        ours = encode_accepted(cols, flags, at_ms, quality, origin, energy_only)
        assert ours == _by_protobuf(cols, flags, at_ms, quality, origin, energy_only)
        got, got_flags, got_quality, got_origin = from_accepted_with_quality(ours)
        for name in ("meter_ids", "reading_times_unix_s", "consumption_kwh", "demand_kw", "voltage_v", "current_a",
                     "power_factor"):
            np.testing.assert_array_equal(getattr(got, name), getattr(cols, name))
            assert getattr(got, name).dtype == getattr(cols, name).dtype
        np.testing.assert_array_equal(got_flags, flags)
        assert got_origin == origin and decode_accepted(ours).energy_only == energy_only
        if quality is None or not n:
            assert got_quality.all_actual() and len(got_quality.letters) == n
        else:
            for name in ("letters", "method_flags", "reason_codes", "versions_unix_s"):
                np.testing.assert_array_equal(getattr(got_quality, name), getattr(quality, name))


def test_varints_round_trip_every_width():
    values = np.concatenate([EDGES, [1 << (7 * k) for k in range(9)], [(1 << (7 * k)) - 1 for k in range(1, 10)]])
    np.testing.assert_array_equal(read_varints(varints(values)), values)
    for same_width in (np.arange(2**28, 2**28 + 500), -np.arange(1, 500), np.zeros(9, np.int64)):
        wire = varints(same_width)
        assert wire == b"".join(varints(np.array([v])) for v in same_width)
        np.testing.assert_array_equal(read_varints(wire), same_width)
    assert len(varints(np.array([-1]))) == 10 and varints(np.array([300])) == b"\xac\x02"
    with pytest.raises(ValueError):
        read_varints(b"\x80")


def test_pieces_merge_and_unknown_fields_are_skipped():
    """Two serialized messages one after the other are one message (protobuf merges them)."""
    rng = np.random.default_rng(3)
    a, b = _columns(rng, 5), _columns(rng, 7)
    wire = encode_accepted(a, np.zeros(5), 1) + encode_accepted(b, np.ones(7), 2, origin="x") + b"\xf8\x01\x07"
    want = reading_pb2.AcceptedReadings.FromString(wire)
    got, flags = from_accepted(wire)
    np.testing.assert_array_equal(got.meter_ids, np.array(want.batch.meter_ids))
    np.testing.assert_array_equal(got.power_factor, np.array(want.batch.power_factor))
    np.testing.assert_array_equal(flags, np.array(want.quality_flags))


def test_unpacked_repeated_fields_are_read_by_the_runtime():
    """proto3 writers pack, but a reader must accept unpacked values: those go through protobuf itself."""
    batch = b"\x08\x05\x08\x06" + b"\x10\x01\x10\x02" + b"".join(b"\x19" + np.float64(v).tobytes() for v in (1.5, 2.5))
    for number in (b"\x22", b"\x2a", b"\x32", b"\x3a"):
        batch += number + b"\x10" + np.array([np.nan, np.nan]).tobytes()
    wire = b"\x0a" + bytes([len(batch)]) + batch
    cols, _ = from_accepted(wire)
    assert cols.meter_ids.tolist() == [5, 6] and cols.consumption_kwh.tolist() == [1.5, 2.5]
