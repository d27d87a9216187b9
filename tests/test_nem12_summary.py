"""The import summary table: a row per file when the console is wide enough, a column per file when not,
and every count readable either way (never folded or cut)."""

from rich.console import Console

from meters.ingest.v1 import nem12_pb2
from meters.ingest.v1.reading_pb2 import RejectionReason
from meters.nem12_summary import COLUMNS, FileOutcome, print_outcomes


def outcome(name: str) -> FileOutcome:
    s = nem12_pb2.Nem12ImportSummary(version="NEM12", nmis=3, days=6, intervals=1_234_567, unknown_nmi_count=1,
                                     unknown_nmis=["NMIUNKNOWN"])
    s.summary.accepted, s.summary.rejected = 1_234_471, 96
    s.summary.rejections.add(reason=RejectionReason.REJECTION_REASON_UNKNOWN_METER, count=96)
    return FileOutcome(name=name, summary=s)


def printed(width: int) -> str:
    console = Console(width=width, record=True)
    clean = print_outcomes(console, [outcome("an-mdp-file-with-a-long-name_20260101.csv"), outcome("b.csv")], 5)
    assert clean  # an unknown NMI is reported, not a problem of the file
    return console.export_text()


def test_wide_console_shows_a_row_per_file_and_the_total():
    text = printed(220)
    header = next(line for line in text.splitlines() if "version" in line)
    assert all(column in header for column in COLUMNS)
    assert "1,234,567" in text and "2,469,134" in text  # each file's intervals, then the total's


def test_narrow_console_shows_a_column_per_file_with_every_count_whole():
    text = printed(80)
    assert max(len(line) for line in text.splitlines()) <= 80
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.startswith("│")}
    assert set(COLUMNS[1:]) <= set(rows)  # the columns became rows
    assert rows["intervals"].count("1,234,567") == 2 and "2,469,134" in rows["intervals"]
    assert "NMIUNKNOWN" in text and "unknown_meter 96" in rows["by reason"]
