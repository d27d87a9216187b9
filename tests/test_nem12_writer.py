"""write_nem12: parse(write(x)) gives x back exactly (values, times, quality, method flags, reason
codes) for 5-, 15- and 30-minute data of several NMIs and suffixes; a day of mixed quality is
written as a V 300 with 400 ranges; the file is a valid NEM12 file (100, 200, 300, 400, 900)."""

import io

import numpy as np
import pytest

from meters.nem12 import Block, channel_of, day_blocks, keep_newest, newer, write_nem12
from meters.nem12.nemtime import NEM_OFFSET_S
from tests.nem12_files import FIXTURES, day, nem12, split

DAY0 = 1704067200 - NEM_OFFSET_S  # 2024-01-01 00:00 NEM time


def series(minutes: int, days: int, seed: int):
    """Intervals with gaps, ugly floats and every quality: A, S / F / E with method flags, N."""
    rng = np.random.default_rng(seed)
    step = minutes * 60
    ends = DAY0 + step * np.arange(1, days * 1440 // minutes + 1)
    keep = rng.random(len(ends)) > 0.02  # some intervals missing: written as N
    values = np.round(rng.gamma(2.0, 0.1, len(ends)), 6) * (minutes / 30)
    values[::97] = rng.random(len(values[::97])) / 3  # full-precision floats
    values[5] = 1e-7  # a float repr would give an exponent
    quality = np.full(len(ends), "A")
    method = np.zeros(len(ends), np.int16)
    reason = np.zeros(len(ends), np.int16)
    for letter, flag, code in (("S", 14, 76), ("F", 51, 1), ("E", 52, 0)):
        at = rng.random(len(ends)) < 0.03
        quality[at], method[at], reason[at] = letter, flag, code
    return ends[keep], values[keep], quality[keep], method[keep], reason[keep]


def fleet() -> list[Block]:
    blocks = []
    for i, (minutes, suffixes) in enumerate([(30, ("E1", "B1")), (15, ("E1", "Q1")), (5, ("E1",))]):
        for j, suffix in enumerate(suffixes):
            ends, values, quality, method, reason = series(minutes, 3, seed=10 * i + j)
            unit = "kvarh" if suffix.startswith("Q") else "kWh"
            channel = channel_of(f"NMI{i:07d}", suffix, interval_minutes=minutes, unit=unit, meter_serial=f"M{i}")
            blocks += day_blocks(channel, ends, values, quality=quality, method_flag=method, reason_code=reason,
                                 update_time_unix_s=DAY0 + 5 * 86400 + i)
    return blocks


def written(blocks) -> bytes:
    out = io.BytesIO()
    write_nem12(out, blocks, from_participant="METERS", to_participant="RETAILER", created=DAY0 + 6 * 86400)
    return out.getvalue()


def test_round_trip_is_exact_for_5_15_30_minutes_several_nmis_and_suffixes():
    blocks = fleet()
    back, problems, _ = split(written(blocks))
    assert problems == []
    assert len(back) == len(blocks) == 15  # 5 channels x 3 days
    for a, b in zip(blocks, back):
        assert (a.nmi, a.suffix, a.meter_serial, a.unit, a.interval_minutes, a.interval_date) == (
            b.nmi, b.suffix, b.meter_serial, b.unit, b.interval_minutes, b.interval_date)
        assert np.array_equal(a.interval_end_unix_s, b.interval_end_unix_s)
        assert a.values.tolist() == b.values.tolist()  # exact floats
        assert a.quality.tolist() == b.quality.tolist()
        assert a.method_flag.tolist() == b.method_flag.tolist()
        assert a.reason_code.tolist() == b.reason_code.tolist()
        assert a.update_time_unix_s == b.update_time_unix_s
    assert {b.interval_minutes for b in back} == {5, 15, 30}
    assert {"N", "S", "F", "E", "A"} <= {q for b in back for q in b.quality.tolist()}


def test_written_records():
    text = written(fleet()).decode()
    lines = text.splitlines()
    assert lines[0] == "100,NEM12,202401070000,METERS,RETAILER" and lines[-1] == "900"
    assert sum(line.startswith("200,") for line in lines) == 5
    assert sum(line.startswith("300,") for line in lines) == 15
    assert "e-" not in text and "nan" not in text
    for at, line in enumerate(lines):  # every fleet day mixes qualities: V, then 400s covering it once
        if line.startswith("300,"):
            assert line.split(",")[-5] == "V"
            ranges, n = [], len(line.split(",")) - 7
            for following in lines[at + 1:]:
                if not following.startswith("400,"):
                    break
                ranges.append(tuple(map(int, following.split(",")[1:3])))
            assert ranges[0][0] == 1 and ranges[-1][1] == n
            assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:]))


def test_a_day_of_one_quality_is_one_300_without_400s():
    channel = channel_of("NMI0000001", "E1", interval_minutes=30)
    ends = DAY0 + 1800 * np.arange(1, 49)
    (block,) = day_blocks(channel, ends, np.full(48, 0.5), quality=np.full(48, "S"), method_flag=np.full(48, 14),
                          reason_code=np.full(48, 32))
    text = written([block]).decode()
    assert ",S14,32,," in text and "\n400," not in text
    (back,), _, _ = split(text.encode())
    assert set(back.quality.tolist()) == {"S"} and set(back.reason_code.tolist()) == {32}


def test_writing_refuses_what_nem12_cannot_hold():
    channel = channel_of("NMI0000001", "E1", interval_minutes=30)
    ends = DAY0 + 1800 * np.arange(1, 49)
    (block,) = day_blocks(channel, ends, np.r_[np.nan, np.ones(47)])
    with pytest.raises(ValueError, match="cannot be written"):
        written([block])
    with pytest.raises(ValueError, match="grid"):
        next(day_blocks(channel, ends + 60, np.ones(48)))


def test_parsed_example_files_write_back_to_the_same_days():
    blocks, _, _ = split(FIXTURES / "unzipped/Example_NEM12_multiple_quality.csv")
    (back,), problems, _ = split(written(blocks))
    assert problems == [] and back.quality.tolist() == blocks[0].quality.tolist()
    assert back.method_flag.tolist() == blocks[0].method_flag.tolist()


def test_a_later_update_replaces_an_earlier_one_and_an_older_does_not():
    head = ("100,NEM12,202401011200,MDP,RET", "200,NMI0000001,E1,E1,E1,N1,S1,kWh,30,")
    blocks, _, _ = split(nem12(*head, day("20240101", [1] * 48, update="20240102000000"),
                               day("20240101", [2] * 48, update="20240103000000"),  # newer: replaces
                               day("20240101", [3] * 48, update="20240102120000"),  # older than the kept one
                               day("20240101", [4] * 48, update="20240103000000"),  # same time: no change
                               day("20240101", [5] * 48, update=""),  # no time: never replaces
                               "900"))
    assert len(blocks) == 5  # the parser gives every version out
    (kept,) = keep_newest(blocks)
    assert kept.values[0] == 2
    assert newer(10, 5) and not newer(5, 10) and not newer(5, 5) and not newer(0, 5) and newer(5, 0)
