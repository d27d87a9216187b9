"""Malformed NEM12 files: each bad record is a Problem with its file, line and reason, the intervals
it held come with it as far as they can be recovered, and the file's valid blocks still come out."""

import numpy as np
import pytest

from tests.nem12_files import FIXTURES, day, nem12, split

INVALID = FIXTURES / "invalid"
HEAD = ("100,NEM12,202401011200,MDP,RET", "200,NMI0000001,E1,E1,E1,N1,S1,kWh,30,")


def reasons(problems):
    return [(p.line, p.record, p.reason) for p in problems]


@pytest.mark.parametrize("name, expected, good_days", [
    ("Example_NEM12_15min_200_30min_300.csv", [(3, "300", "INTERVAL_LENGTH_MISMATCH")], 0),
    ("Example_NEM12_30min_200_15min_300.csv", [(3, "300", "INTERVAL_LENGTH_MISMATCH")], 0),
    ("Example_NEM12_15min_200_30min_400.csv", [(5, "400", "INTERVAL_LENGTH_MISMATCH")], 0),
    ("Example_NEM12_30min_200_15min_400.csv", [(4, "400", "BAD_QUALITY"), (3, "300", "INTERVAL_LENGTH_MISMATCH")], 0),
    ("Example_NEM12_empty.csv", [(2, "", "NO_DATA")], 0),
    ("Example_empty_file.csv", [(0, "", "EMPTY_FILE")], 0),
    ("Example_NEM12_incomplete_interval.csv", [(3, "300", "INTERVAL_COUNT_MISMATCH")], 3),
    ("Example_NEM12_missing_header.csv", [(2, "200", "MISSING_HEADER")], 2),
    ("Example_NEM12_powercor.csv", [(2, "200", "MISSING_HEADER"), (8, "200", "RECORDS_AFTER_END")], 4),
    ("Example_NEM12_powercor.csv.zip", [(2, "200", "MISSING_HEADER"), (8, "200", "RECORDS_AFTER_END")], 4),
    ("Example_NEM12_powercor_missing_fields.csv", [(2, "200", "MISSING_HEADER"), (3, "300", "MISSING_FIELDS"),
                                                   (5, "300", "MISSING_FIELDS"), (8, "200", "RECORDS_AFTER_END"),
                                                   (9, "300", "MISSING_FIELDS"), (11, "300", "MISSING_FIELDS")], 4),
])
def test_invalid_corpus(name, expected, good_days):
    blocks, problems, _ = split(INVALID / name)
    assert reasons(problems) == expected
    assert len(blocks) == good_days
    assert all(p.file.endswith(name) or p.file.endswith("Example_NEM12_powercor.csv") for p in problems)


def test_a_300_written_for_another_interval_length_keeps_its_values_timed_by_it():
    _, (p,), _ = split(INVALID / "Example_NEM12_30min_200_15min_300.csv")
    assert (p.nmi, p.suffix, p.intervals) == ("123", "E1", 96)
    assert p.block.interval_minutes == 15 and p.block.values[:3].tolist() == [0, 10, 20]
    assert "96 values" in p.message and "30 minutes" in p.message


def test_an_incomplete_300_is_rejected_with_its_day_and_the_rest_flows():
    blocks, (p,), _ = split(INVALID / "Example_NEM12_incomplete_interval.csv")
    assert (p.intervals, p.block.interval_date, np.isnan(p.block.values).all()) == (48, "20040201", True)
    assert [(b.suffix, b.interval_date) for b in blocks] == [("E1", "20040202"), ("Q1", "20040201"), ("Q1", "20040202")]


def test_records_after_a_900_are_read_on():
    blocks, _, _ = split(INVALID / "Example_NEM12_powercor.csv")
    assert [b.values[0] for b in blocks] == [1.111, 2.222, 3.333, 4.444]
    assert all(b.header.assumed for b in blocks)


@pytest.mark.parametrize("cut", ["at a line end", "inside a 300"])
def test_truncated_file(cut):
    text = (INVALID.parent / "unzipped/Example_NEM12_actual_interval.csv").read_bytes()
    lines = text.splitlines(keepends=True)
    body = b"".join(lines[:3]) if cut == "at a line end" else b"".join(lines[:4]) + lines[4][:60]
    blocks, problems, _ = split(body)
    assert len(blocks) == 1
    if cut == "at a line end":
        assert reasons(problems) == [(3, "", "TRUNCATED_FILE")]
    else:
        assert reasons(problems) == [(5, "300", "INTERVAL_COUNT_MISMATCH"), (5, "", "TRUNCATED_FILE")]


def test_a_bad_value_rejects_its_day_with_the_others_recovered():
    values = [1.5] * 48
    values[4] = "abc"
    values[9] = ""
    blocks, (p,), _ = split(nem12(*HEAD, day("20240101", [1] * 48), day("20240102", values), day("20240103", [2] * 48),
                                  "900"))
    assert [b.interval_date for b in blocks] == ["20240101", "20240103"]
    assert (p.line, p.reason, p.intervals) == (4, "BAD_VALUE", 48)
    assert np.flatnonzero(np.isnan(p.block.values)).tolist() == [4, 9] and p.block.values[0] == 1.5
    assert "5, 10" in p.message


@pytest.mark.parametrize("bad", ["nan", "inf", "1e400", "1_0"])
def test_non_finite_values_inside_a_long_run(bad):
    """A run of regular records read together: one bad value sends the run down the slow path and
    rejects only its own day."""
    days = [day(f"2024{m:02d}{d:02d}", [0.25] * 48) for m in range(1, 4) for d in range(1, 29)]
    days[40] = day("20240213", [0.25] * 47 + [bad])
    blocks, problems, _ = split(nem12(*HEAD, *days, "900"))
    assert reasons(problems) == [(43, "300", "BAD_VALUE")]
    assert len(blocks) == 83 and sum(len(b) for b in blocks) == 83 * 48


def test_bad_dates_quality_and_records():
    blocks, problems, _ = split(nem12(
        *HEAD,
        day("20240230", [1] * 48),  # 3: no 30 February
        day("20240101", [1] * 48, quality="X"),  # 4
        day("20240102", [1] * 48, update="2024010225"),  # 5: not a DateTime14 / 12
        "400,1,48,A,,",  # 6: applies to line 5's day (rejected already): a note
        "999,something",  # 7
        day("20240103", [1] * 48),  # 8: good
        "900"))
    assert reasons(problems) == [(3, "300", "BAD_DATE"), (4, "300", "BAD_QUALITY"), (5, "300", "BAD_DATE"),
                                 (7, "999", "UNKNOWN_RECORD")]
    assert problems[0].block is None and problems[0].intervals == 48
    assert problems[1].block is not None
    assert [b.interval_date for b in blocks] == ["20240103"]


def test_quality_ranges_that_do_not_cover_the_day():
    blocks, problems, _ = split(nem12(*HEAD, day("20240101", [1] * 48, quality="V"), "400,1,20,A,,", "400,22,48,S14,1,",
                                      day("20240102", [1] * 48, quality="V"), "400,1,48,V,,", "400,1,48,A,,",
                                      "400,1,10,A,,", "900"))
    assert reasons(problems) == [(5, "400", "QUALITY_RANGE_MISMATCH"), (7, "400", "BAD_QUALITY")]
    assert problems[0].block.quality[20] == "V" and problems[0].intervals == 48
    assert blocks == []


def test_records_out_of_order_and_bad_channels():
    blocks, problems, _ = split(nem12(
        "100,NEM12,202401011200,MDP,RET",
        day("20240101", [1] * 48),  # 2: no 200 yet
        "400,1,48,A,,",  # 3: no day to apply to
        "200,NMI0000001,E1,E1,E1,N1,S1,kWh,7,",  # 4: a 7-minute day
        day("20240101", [1] * 48),  # 5
        "200,NMI0000002,E1,E1,E1,N1,S1,kWh,30,",
        day("20240101", [1] * 48),  # 7: fine
        "900"))
    assert reasons(problems) == [(2, "300", "RECORD_OUT_OF_ORDER"), (3, "400", "RECORD_OUT_OF_ORDER"),
                                 (5, "300", "BAD_INTERVAL_LENGTH")]
    assert problems[2].nmi == "NMI0000001" and problems[2].intervals == 48
    assert [b.nmi for b in blocks] == ["NMI0000002"]


def test_a_bad_header_version_is_reported_and_read_as_nem12():
    blocks, problems, _ = split(nem12("100,NEM99,202401011200,MDP,RET", *HEAD[1:], day("20240101", [1] * 48), "900"))
    assert reasons(problems) == [(1, "100", "UNKNOWN_VERSION")] and len(blocks) == 1


def test_nem13_and_b2b_records_that_cannot_be_read():
    good = ("250,NMI0000001,11,1,11,11,M1,E,100,20240101000000,A,,,150,20240401000000,A,,,50,kWh,20240701,"
            "20240402000000,")
    blocks, problems, reads = split(nem12(
        "100,NEM13,202404020000,MDP,RET",
        "550,N,,A,",  # 2: nothing to attach to
        "250,NMI0000001,11",  # 3
        good.replace(",150,", ",abc,"),  # 4
        good.replace("20240101000000", "20241301000000"),  # 5: month 13
        good.replace(",kWh,", ",furlongs,"),  # 6
        good, "550,N,,A,",  # 7, 8
        "900"))
    assert reasons(problems) == [(2, "550", "RECORD_OUT_OF_ORDER"), (3, "250", "MALFORMED_RECORD"),
                                 (4, "250", "BAD_VALUE"), (5, "250", "BAD_DATE"), (6, "250", "UNKNOWN_UOM")]
    assert [(r.line, r.quantity, len(r.b2b)) for r in reads] == [(7, 50.0, 1)] and blocks == []


def test_a_byte_order_mark_and_blank_lines_are_no_problem():
    blocks, problems, _ = split(b"\xef\xbb\xbf" + nem12(*HEAD, "", " ", ",,,", day("20240101", [1] * 48), "900"))
    assert problems == [] and len(blocks) == 1
