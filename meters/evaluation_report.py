"""reports/evaluation.md: every figure of `make evaluate` beside its baseline or target, real data first.

The figures are reports/metrics.json's (each service's evaluation writes its own keys); what to show
and against what is meters/evaluation_sections.py. A figure not in metrics.json is shown as "not
measured", never left out, so a section whose evaluation did not run says so. The plots each section
names are linked where they exist. `python -m meters.evaluation_report [reports_dir]` rewrites the
page from the stored figures alone.
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

MISSING = "not measured"


@dataclass(frozen=True)
class Row:
    label: str
    key: str
    peers: tuple[tuple[str, str], ...] = ()  # (name, key) of baselines / published figures beside ours
    target: float | None = None  # the plan's or the goal
    goal_peers: bool = False  # the goal is to be at or better than every peer
    lower_is_better: bool = False
    fmt: str = "{:.3f}"


@dataclass(frozen=True)
class Section:
    title: str
    note: str
    rows: tuple[Row, ...] = ()
    prefix: str = ""  # also list every other key with this prefix
    plots: tuple[str, ...] = ()  # file names under reports/


def _value(figures: dict, key: str, fmt: str) -> str:
    return fmt.format(figures[key]) if key in figures else MISSING


def _met(row: Row, figures: dict) -> str:
    if row.key not in figures:
        return ""
    ours = figures[row.key]
    goals = [row.target] if row.target is not None else []
    if row.goal_peers:
        goals += [figures[k] for _, k in row.peers if k in figures]
    if not goals:
        return ""
    better = (lambda a, b: a <= b) if row.lower_is_better else (lambda a, b: a >= b)
    return "yes" if all(better(ours, g) for g in goals) else "**no**"


def _goal(row: Row) -> str:
    sign = "<=" if row.lower_is_better else ">="
    parts = [f"{sign} {row.fmt.format(row.target)}"] if row.target is not None else []
    if row.goal_peers:
        parts.append(f"{sign} every peer")
    return ", ".join(parts)


def render_section(section: Section, figures: dict, reports_dir: Path) -> list[str]:
    lines = [f"## {section.title}", "", section.note, "",
             "| figure | ours | goal | met | beside |", "| --- | --- | --- | --- | --- |"]
    shown = set()
    for row in section.rows:
        shown.add(row.key)
        peers = "; ".join(f"{name} {_value(figures, key, row.fmt)}" for name, key in row.peers)
        lines.append(f"| {row.label} | {_value(figures, row.key, row.fmt)} | {_goal(row)} | {_met(row, figures)} "
                     f"| {peers} |")
    if section.prefix:
        extra = sorted(k for k in figures if k.startswith(section.prefix) and k not in shown)
        lines += [f"| `{k}` | {figures[k]:.4g} | | | |" for k in extra]
        if not extra and not section.rows:
            lines.append(f"| `{section.prefix}*` | {MISSING} | | | |")
    plots = [p for p in section.plots if (reports_dir / p).exists()]
    if plots:
        lines += [""] + [f"![{p}]({p})" for p in plots]
    return lines + [""]


def render(figures: dict, reports_dir: Path) -> str:
    from meters.evaluation_sections import SECTIONS

    lines = ["# Evaluation report", "",
             "Written by `make evaluate` from `metrics.json` (meters/evaluation_report.py). Real data first, then "
             "the plan's targets on the synthetic fleet's planted truth. Every figure is on data the models did not "
             "see; \"met\" compares with the goal named beside it.", ""]
    for section in SECTIONS:
        lines += render_section(section, figures, reports_dir)
    return "\n".join(lines)


def write(reports_dir: Path) -> Path:
    reports_dir = Path(reports_dir)
    figures = json.loads((reports_dir / "metrics.json").read_text())
    path = reports_dir / "evaluation.md"
    path.write_text(render(figures, reports_dir))
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "reports")))
