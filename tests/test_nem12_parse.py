"""The NEM12 / NEM13 parser on real-world-shaped example files (tests/fixtures/nem12) and small
files made here: counts, NEM time to UTC, units, quality from 400 records, NEM13 reads."""

import datetime as dt
import io
import re
import zipfile

import numpy as np
import pytest

from meters.nem12 import Block, parse
from tests.nem12_files import FIXTURES, day, nem12, split

VALID = sorted(FIXTURES.glob("nem12/*.zip")) + [FIXTURES / "Example_NEM12_ManyNMIs.zip"] + sorted(
    p for p in FIXTURES.glob("unzipped/Example_NEM12_*.csv") if "different_interval" not in p.name) + [
    FIXTURES / "unzipped/Example_WesternPower.csv"]


def expected_days(text: str) -> tuple[int, int]:
    """(300 records, intervals) counted from the text itself: each 300 has 1440 / IntervalLength of its 200."""
    days = intervals = 0
    length = None
    for line in text.splitlines():
        fields = line.split(",")
        if fields[0] == "200":
            length = int(fields[8])
        elif fields[0] == "300":
            days += 1
            intervals += 1440 // length
    return days, intervals


def text_of(path) -> str:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            return "".join(z.read(n).decode() + "\n" for n in z.namelist())
    return path.read_text()


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_every_valid_nem12_example_gives_every_day_and_no_problem(path):
    blocks, problems, _ = split(path)
    assert problems == []
    assert (len(blocks), sum(len(b) for b in blocks)) == expected_days(text_of(path))
    for b in blocks:
        assert len(b.values) == len(b.interval_end_unix_s) == len(b.quality) == 1440 // b.interval_minutes
        assert not np.isnan(b.values).any() and "V" not in set(b.quality.tolist())


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("nem13/*.zip")) + sorted(FIXTURES.glob("unzipped/*NEM13*")),
                         ids=lambda p: p.name)
def test_every_nem13_example_gives_one_read_per_250(path):
    blocks, problems, reads = split(path)
    text = text_of(path)
    assert (blocks, problems) == ([], [])
    assert len(reads) == len(re.findall(r"^250,", text, re.M))
    assert sum(len(r.b2b) for r in reads) == len(re.findall(r"^550,", text, re.M))


def test_nem13_read_fields():
    _, _, (read,) = split(FIXTURES / "unzipped/Example_NEM13_consumption_data.csv")
    assert (read.nmi, read.suffix, read.meter_serial, read.direction) == ("VABC005890", "11", "METSER123", "E")
    assert (read.previous.register_read, read.current.register_read, read.quantity) == (6342.8, 7654.9, 1312.1)
    assert read.previous.read_unix_s == dt.datetime(2003, 10, 4, 23, 30, 55, tzinfo=dt.timezone.utc).timestamp()
    assert read.update_time_unix_s == dt.datetime(2004, 1, 8, 0, 3, 33, tzinfo=dt.timezone.utc).timestamp()
    assert read.header.version == "NEM13" and read.unit == "kWh"
    _, _, (first, second) = split(FIXTURES / "unzipped/Example_NEM13_forward_estimate.csv")
    assert (first.current.quality, first.current.method_flag) == ("E", 64)
    assert [b.fields for b in first.b2b] == [("N", "", "E", "")]


def test_nem_time_is_utc_plus_ten_all_year():
    """Interval 1 of a day ends at 00:00 + length NEM time; no daylight saving in January or July."""
    blocks, _, _ = split(nem12("100,NEM12,202401011200,MDP,RET", "200,NMI0000001,E1,E1,E1,N1,S1,kWh,30,",
                               day("20240101", range(48)), day("20240701", range(48)), "900"))
    jan, jul = blocks
    utc = dt.timezone.utc
    assert jan.interval_end_unix_s[0] == dt.datetime(2023, 12, 31, 14, 30, tzinfo=utc).timestamp()
    assert jan.interval_end_unix_s[-1] == dt.datetime(2024, 1, 1, 14, 0, tzinfo=utc).timestamp()
    assert jul.interval_end_unix_s[0] == dt.datetime(2024, 6, 30, 14, 30, tzinfo=utc).timestamp()
    assert np.all(np.diff(jan.interval_end_unix_s) == 1800)
    assert jan.update_time_unix_s == dt.datetime(2024, 1, 1, 17, 4, 5, tzinfo=utc).timestamp()
    assert jan.header.created_unix_s == dt.datetime(2024, 1, 1, 2, 0, tzinfo=utc).timestamp()
    assert (jan.header.from_participant, jan.header.to_participant) == ("MDP", "RET")


def test_five_minute_file_many_nmis():
    blocks, problems, _ = split(FIXTURES / "Example_NEM12_ManyNMIs.zip")
    assert problems == [] and {b.interval_minutes for b in blocks} == {5}
    assert {len(b) for b in blocks} == {288}
    assert len({b.nmi for b in blocks}) > 1
    first = blocks[0]
    assert first.interval_end_unix_s[0] == dt.datetime(2019, 12, 31, 14, 5, tzinfo=dt.timezone.utc).timestamp()


def test_intervals_of_different_lengths_in_one_file():
    """E1 / E2 at 30 minutes; V1 at 10 minutes with no UOM: kept, unconverted, as rejected."""
    blocks, problems, _ = split(FIXTURES / "Example_different_intervals.zip")
    assert [(b.suffix, b.interval_minutes, len(b)) for b in blocks] == [("E1", 30, 48), ("E2", 30, 48)]
    (p,) = problems
    assert (p.reason, p.line, p.suffix, p.intervals) == ("UNKNOWN_UOM", 7, "V1", 144)
    assert p.block.interval_minutes == 10 and p.block.values[0] == 227.92


def test_units_are_converted_to_kilo_units():
    blocks, _, _ = split(FIXTURES / "unzipped/Example_NEM12_multiple_meters.csv")
    by = {(b.meter_serial, b.suffix): b for b in blocks}
    e1 = by["METSER123", "E1"]
    assert (e1.uom, e1.unit, e1.values[0]) == ("Wh", "kWh", 0.01)
    q1 = by["METSER123", "Q1"]
    assert (q1.uom, q1.unit, q1.values[0]) == ("VArh", "kvarh", 0.05)
    upper, _, _ = split(FIXTURES / "unzipped/Example_NEM12_upper_case_units.csv")
    assert [(b.uom, b.unit, b.values[0]) for b in upper] == [("KWH", "kWh", 1.111), ("KVARH", "kvarh", 2.222)]
    mwh, _, _ = split(nem12("100,NEM12,202401011200,MDP,RET", "200,NMI0000001,E1,E1,E1,N1,S1,MWh,30,",
                            day("20240101", [0.0015] * 48), "900"))
    assert mwh[0].unit == "kWh" and mwh[0].values[0] == pytest.approx(1.5, rel=1e-15)


def test_400_records_give_quality_method_and_reason_per_range():
    (b,), problems, _ = split(FIXTURES / "unzipped/Example_NEM12_multiple_quality.csv")
    assert problems == []
    assert b.quality.tolist() == ["F"] * 20 + ["A"] * 4 + ["S"] * 24
    assert b.method_flag.tolist() == [14] * 20 + [0] * 4 + [14] * 24
    assert b.reason_code.tolist() == [76] * 20 + [0] * 4 + [1] * 24


def test_quality_of_a_whole_day_with_method_and_reason():
    blocks, _, _ = split(FIXTURES / "unzipped/Example_NEM12_substituted_interval.csv")
    assert {(q, f, r) for b in blocks for q, f, r in zip(b.quality, b.method_flag, b.reason_code)} == {("F", 14, 32)}


def test_500_records_attach_to_their_day():
    blocks, _, _ = split(FIXTURES / "nem12/NEM12#SCENARIO1#UNITEDDP#NEMMCO.zip")
    with_b2b = [b for b in blocks if b.b2b]
    assert len(with_b2b) == 2 and all(t.record == "500" for b in with_b2b for t in b.b2b)


def test_a_zip_of_several_members_yields_each_with_its_name():
    buf = io.BytesIO()
    one = nem12("100,NEM12,202401011200,MDP,RET", "200,NMI0000001,E1,E1,E1,N1,S1,kWh,30,", day("20240101", [1] * 48),
                "900")
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.csv", one)
        z.writestr("b.csv", one.replace(b"NMI0000001", b"NMI0000002").replace(b",30,", b",15,").replace(
            b"," + b",".join([b"1"] * 48) + b",", b"," + b",".join([b"2"] * 96) + b","))
    buf.seek(0)
    blocks, problems, _ = split(buf, name="drop.zip")
    assert [(b.nmi, len(b)) for b in blocks] == [("NMI0000001", 48), ("NMI0000002", 96)]
    assert problems == []
    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("c.csv", one[:-4])
    bad.seek(0)
    _, (truncated,), _ = split(bad, name="drop.zip")
    assert (truncated.file, truncated.reason) == ("drop.zip/c.csv", "TRUNCATED_FILE")


def test_parse_streams_one_day_at_a_time():
    """A file object that would fail if read past what the first days need: the parser must yield
    the first Block long before the end of a large file."""
    head = nem12("100,NEM12,202401011200,MDP,RET", "200,NMI0000001,E1,E1,E1,N1,S1,kWh,30,")
    body = "".join(day(f"2024{m:02d}{d:02d}", [1] * 48) + "\n" for m in range(1, 13) for d in range(1, 29))
    source = io.BytesIO(head + body.encode() * 20 + b"900\n")
    items = parse(source)
    first = next(items)
    assert isinstance(first, Block) and source.tell() < len(source.getvalue()) // 4
    assert sum(len(b) for b in items if isinstance(b, Block)) + len(first) == 12 * 28 * 20 * 48


def test_a_text_mode_file_is_refused():
    with open(FIXTURES / "unzipped/Example_NEM12_actual_interval.csv") as f, pytest.raises(TypeError):
        next(parse(f))
