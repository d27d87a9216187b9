"""Detected against truth: SAIDI and SAIFI from each and the relative error the 2 % goal is judged on."""

import pytest

from scoring_svc.reliability import reliability_comparison
from tests.reliability_cases import NOVEMBER, SERVED


def test_relative_error_of_detected_against_truth():
    detected = NOVEMBER.copy()
    detected.loc[detected["outage_id"] == 1, "restored_unix_s"] += 60  # restored a minute late: +60 c-min
    detected = detected[detected["outage_id"] != 2]  # the planned outage missed
    c = reliability_comparison(detected, NOVEMBER, SERVED, "2026-11").set_index(["category", "index"])
    assert c.loc[("total", "saidi"), "truth"] == pytest.approx(30.9)
    assert c.loc[("total", "saidi"), "detected"] == pytest.approx(19.5)
    assert c.loc[("unplanned", "saidi"), "relative_error"] == pytest.approx(0.6 / 18.9)
    assert c.loc[("unplanned", "saifi"), "relative_error"] == 0
    assert not c.loc[("unplanned", "saidi"), "within_goal"]
    assert bool(c.loc[("unplanned", "saifi"), "within_goal"])
    assert c.loc[("planned", "saifi"), "relative_error"] == pytest.approx(1.0)


def test_same_events_agree_exactly():
    c = reliability_comparison(NOVEMBER, NOVEMBER, SERVED, "2026-11")
    assert (c["relative_error"] == 0).all() and c["within_goal"].all()
