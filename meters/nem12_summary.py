"""The table `meters import nem12` prints: one row per file from its Nem12ImportSummary, and a total."""

from collections import Counter
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from meters.ingest.v1 import nem12_pb2
from meters.ingest.v1.reading_pb2 import RejectionReason

COLUMNS = ("file", "version", "NMIs", "days", "intervals", "accepted", "rejected", "by reason", "unknown NMIs",
           "problems", "truncated")
TEXT_COLUMNS = {"file", "version", "by reason"}  # the rest are counts, right-aligned


@dataclass
class FileOutcome:
    name: str
    summary: nem12_pb2.Nem12ImportSummary | None  # None: refused
    refusal: str = ""

    @property
    def clean(self) -> bool:
        return self.summary is not None and self.summary.problem_count == 0


def reasons(summary: nem12_pb2.Nem12ImportSummary) -> Counter:
    return Counter({RejectionReason.Name(r.reason).removeprefix("REJECTION_REASON_").lower(): r.count
                    for r in summary.summary.rejections})


def _reason_text(counts: Counter) -> str:
    return "\n".join(f"{reason} {count:,}" for reason, count in counts.most_common())


def _row(s: nem12_pb2.Nem12ImportSummary, by_reason: Counter) -> list[str]:
    return [f"{s.nmis:,}", f"{s.days:,}", f"{s.intervals:,}", f"{s.summary.accepted:,}", f"{s.summary.rejected:,}",
            _reason_text(by_reason), f"{s.unknown_nmi_count:,}", f"{s.problem_count:,}"]


def rows(outcomes: list[FileOutcome]) -> list[list[str]]:
    """The cells of each file's row (COLUMNS), then the total's."""
    out = []
    total, by_reason, truncated = nem12_pb2.Nem12ImportSummary(), Counter(), 0
    for o in outcomes:
        if o.summary is None:
            out.append([o.name, "refused", *[""] * (len(COLUMNS) - 2)])
            continue
        s = o.summary
        name = o.name + (" (already imported)" if s.already_imported else "")
        out.append([name, s.version, *_row(s, reasons(s)), "yes" if s.truncated else "no"])
        for attr in ("nmis", "days", "intervals", "unknown_nmi_count", "problem_count"):
            setattr(total, attr, getattr(total, attr) + getattr(s, attr))
        total.summary.accepted += s.summary.accepted
        total.summary.rejected += s.summary.rejected
        by_reason += reasons(s)
        truncated += s.truncated
    n = len(outcomes)
    return out + [[f"total ({n} file{'s' * (n != 1)})", "", *_row(total, by_reason), f"{truncated:,}"]]


def _width(cells: list[list[str]]) -> int:
    """Console columns the row-per-file table needs: every count unwrapped, file names folded at 16."""
    widths = [max(len(line) for text in [name, *(row[i] for row in cells)] for line in text.split("\n"))
              for i, name in enumerate(COLUMNS)]
    return sum(widths[1:]) + min(widths[0], 16) + 3 * len(COLUMNS) + 1  # padding and a border a column


def table(console: Console, outcomes: list[FileOutcome]) -> Table:
    """A row per file and the total; a column per file instead when that does not fit the console."""
    cells = rows(outcomes)
    wide = Table(title="NEM12 import")
    for column in COLUMNS:
        file = column == "file"
        wide.add_column(column, justify="left" if column in TEXT_COLUMNS else "right", no_wrap=not file,
                        overflow="fold", min_width=16 if file else None)
    for row in cells[:-1]:
        wide.add_row(*row)
    wide.add_section()
    wide.add_row(*cells[-1], style="bold")
    if _width(cells) <= console.width:
        return wide
    tall = Table(title="NEM12 import")
    tall.add_column("")
    for row in cells:
        tall.add_column(row[0], justify="right", overflow="fold")
    for i, column in enumerate(COLUMNS[1:], 1):
        tall.add_row(column, *(row[i] for row in cells))
    return tall


def print_outcomes(console: Console, outcomes: list[FileOutcome], shown: int) -> bool:
    """Print the table, then what went wrong per file (at most `shown` problems and unknown NMIs each);
    True when every file was imported without a problem."""
    console.print(table(console, outcomes))
    for o in outcomes:
        if o.summary is None:
            console.print(f"[red]{o.name}: refused[/red] {o.refusal}")
            continue
        for p in o.summary.problems[:shown]:
            console.print(f"{p.file}:{p.line} {p.reason}: {p.message}", markup=False, highlight=False)
        if o.summary.problem_count > shown:
            console.print(f"{o.name}: ... {o.summary.problem_count - shown:,} more problems")
        if o.summary.unknown_nmi_count:
            listed = list(o.summary.unknown_nmis[:shown])
            more = o.summary.unknown_nmi_count - len(listed)
            console.print(f"{o.name}: NMIs not registered (register them as meters first): {', '.join(listed)}"
                          + (f"{' and' * bool(listed)} {more:,} more" if more > 0 else ""), markup=False,
                          highlight=False)
    return all(o.clean for o in outcomes)
