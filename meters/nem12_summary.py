"""The table `meters import nem12` prints: one row per file from its Nem12ImportSummary, and a total."""

from collections import Counter
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from meters.ingest.v1 import nem12_pb2
from meters.ingest.v1.reading_pb2 import RejectionReason

COLUMNS = ("file", "version", "NMIs", "days", "intervals", "accepted", "rejected", "rejected by reason",
           "unknown NMIs", "problems", "truncated")
TEXT_COLUMNS = {"file", "version", "rejected by reason"}


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
    return ", ".join(f"{reason} {count:,}" for reason, count in counts.most_common())


def _row(s: nem12_pb2.Nem12ImportSummary, by_reason: Counter) -> list[str]:
    return [f"{s.nmis:,}", f"{s.days:,}", f"{s.intervals:,}", f"{s.summary.accepted:,}", f"{s.summary.rejected:,}",
            _reason_text(by_reason), f"{s.unknown_nmi_count:,}", f"{s.problem_count:,}"]


def table(outcomes: list[FileOutcome]) -> Table:
    out = Table(title="NEM12 import")
    for column in COLUMNS:
        out.add_column(column, justify="left" if column in TEXT_COLUMNS else "right")
    total, by_reason, truncated = nem12_pb2.Nem12ImportSummary(), Counter(), 0
    for o in outcomes:
        if o.summary is None:
            out.add_row(o.name, "[red]refused[/red]", *[""] * (len(COLUMNS) - 2))
            continue
        s = o.summary
        name = o.name + (" (already imported)" if s.already_imported else "")
        out.add_row(name, s.version, *_row(s, reasons(s)), "yes" if s.truncated else "no")
        for attr in ("nmis", "days", "intervals", "unknown_nmi_count", "problem_count"):
            setattr(total, attr, getattr(total, attr) + getattr(s, attr))
        total.summary.accepted += s.summary.accepted
        total.summary.rejected += s.summary.rejected
        by_reason += reasons(s)
        truncated += s.truncated
    out.add_section()
    out.add_row(f"total ({len(outcomes)} file{'s' * (len(outcomes) != 1)})", "", *_row(total, by_reason), f"{truncated:,}", style="bold")
    return out


def print_outcomes(console: Console, outcomes: list[FileOutcome], shown: int) -> bool:
    """Print the table, then what went wrong per file (at most `shown` problems and unknown NMIs each);
    True when every file was imported without a problem."""
    console.print(table(outcomes))
    for o in outcomes:
        if o.summary is None:
            console.print(f"[red]{o.name}: refused[/red] {o.refusal}")
            continue
        for p in o.summary.problems[:shown]:
            console.print(f"{p.file}:{p.line} {p.reason}: {p.message}", markup=False, highlight=False)
        if o.summary.problem_count > shown:
            console.print(f"{o.name}: ... {o.summary.problem_count - shown:,} more problems")
        if o.summary.unknown_nmi_count:
            listed = ", ".join(o.summary.unknown_nmis[:shown])
            more = o.summary.unknown_nmi_count - min(shown, len(o.summary.unknown_nmis))
            console.print(f"{o.name}: NMIs not registered (register them as meters first): {listed}"
                          + (f" and {more:,} more" if more > 0 else ""), markup=False, highlight=False)
    return all(o.clean for o in outcomes)
