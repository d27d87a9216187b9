"""reports/evaluation.md: figures beside goals and peers, missing figures said, real data first."""

import json
from pathlib import Path

from meters.evaluation_report import MISSING, Row, Section, render, render_section
from meters.evaluation_sections import SECTIONS

REPO = Path(__file__).resolve().parent.parent


def table(lines: list[str]) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines
            if line.startswith("| ") and not line.startswith(("| figure", "| ---"))]


def test_goals_peers_and_missing_figures(tmp_path):
    section = Section("t", "n", (
        Row("higher", "a", target=0.9),
        Row("lower vs peers", "b", (("naive", "b_naive"), ("other", "b_other")), goal_peers=True, lower_is_better=True),
        Row("absent", "c", target=1.0),
    ), prefix="extra_")
    rows = table(render_section(section, {"a": 0.95, "b": 2.0, "b_naive": 3.0, "b_other": 1.5, "extra_x": 4.0},
                                tmp_path))
    assert rows[0][:4] == ["higher", "0.950", ">= 0.900", "yes"]
    assert rows[1][3] == "**no**" and rows[1][4] == "naive 3.000; other 1.500"  # beaten by one peer
    assert rows[2][1:4] == [MISSING, ">= 1.000", ""]
    assert rows[3][0] == "`extra_x`"


def test_every_named_figure_is_one_an_evaluation_writes():
    """Catches a misspelt key: each row's figure and peers are in the committed reports/metrics.json."""
    stored = json.loads((REPO / "reports" / "metrics.json").read_text())
    named = {k for s in SECTIONS for r in s.rows for k in (r.key, *(key for _, key in r.peers))}
    assert sorted(named - stored.keys()) == []


def test_real_data_sections_come_first(tmp_path):
    titles = [line for line in render({}, tmp_path).splitlines() if line.startswith("## ")]
    kinds = [t.removeprefix("## ").split(":")[0] for t in titles]
    assert kinds[0] == "Real data" and kinds.index("Plan targets") > max(i for i, k in enumerate(kinds) if k == "Real data")
