"""The monthly report: valid, self-contained HTML with its figures, CSVs with the month's rows."""

import base64
from html.parser import HTMLParser

import pandas as pd

from scoring_svc.reliability import write_reliability_report
from tests.reliability_cases import NOVEMBER, SERVED
from tests.test_reliability_major_events import _history

PNG = b"\x89PNG\r\n\x1a\n"


class _Tags(HTMLParser):
    VOID = {"img", "meta", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.open, self.imgs, self.tables, self.unbalanced = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))
        elif tag not in self.VOID:
            self.open.append(tag)
        self.tables += tag == "table"

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.unbalanced.append(tag)


def _parse(text: str) -> _Tags:
    p = _Tags()
    p.feed(text)
    p.close()
    return p


def test_report_html_is_whole_with_four_embedded_figures(tmp_path):
    month = pd.concat([_history(), NOVEMBER.assign(outage_id=NOVEMBER["outage_id"] + 1000)], ignore_index=True)
    paths = write_reliability_report(month, SERVED, "2026-11", tmp_path / "out")
    text = paths.html.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    tags = _parse(text)
    assert tags.unbalanced == [] and tags.open == []
    assert len(tags.imgs) == 4  # daily SAIDI, SAIDI by feeder, timeline, customer-minutes by cause
    for img in tags.imgs:
        assert img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1]).startswith(PNG)
    assert "src=\"http" not in text and "<script" not in text  # nothing fetched from elsewhere
    assert "2026-11-15" in text  # the storm's major event day listed
    assert tags.tables >= 4  # headline, MEDs, regions, worst feeders


def test_events_csv_holds_the_months_interruptions(tmp_path):
    paths = write_reliability_report(NOVEMBER, SERVED, "2026-11", tmp_path)
    events = pd.read_csv(paths.events_csv)
    assert events["outage_id"].tolist() == [1, 2, 3, 4]  # Oct 31's and Dec 1's (local) are other months'
    assert events.loc[events["outage_id"] == 4, "restored_at"].item() == "2026-12-01T01:00:00+1000"
    assert events["customer_minutes"].sum() == 3090
    assert events["momentary"].tolist() == [False, False, True, False]
    indices = pd.read_csv(paths.indices_csv)
    assert set(indices["grouping"]) == {"network", "region", "substation", "feeder"}
    assert len(indices) == 5 * (1 + 2 + 2 + 2)  # five categories per group


def test_month_without_outages_still_reports(tmp_path):
    paths = write_reliability_report(NOVEMBER, SERVED, "2027-02", tmp_path)
    assert len(pd.read_csv(paths.events_csv)) == 0
    assert len(_parse(paths.html.read_text()).imgs) == 4
