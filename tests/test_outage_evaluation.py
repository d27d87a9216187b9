"""Outage detection against a small fleet's planted truth (more outages planted than a real year's)."""

import math

import pytest

from meters.fleet import FleetConfig
from meters.fleet.config import OutageRates
from scoring_svc.outages import evaluation
from scoring_svc.outages.evaluation import evaluate_outage_detection


@pytest.fixture(scope="module")
def figures(tmp_path_factory, monkeypatch_module):
    reports = tmp_path_factory.mktemp("reports")
    return evaluate_outage_detection(2_000, 45, seed=5, reports_dir=reports), reports


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    base = evaluation.FleetConfig
    mp.setattr(evaluation, "FleetConfig", lambda **kw: base(**kw, outage_rates=OutageRates(scale=6.0)))
    yield mp
    mp.undo()


def test_sustained_outages_found_with_high_precision_and_recall(figures):
    f, _ = figures
    assert f["outage_truth_sustained_meter"] >= 20 and f["outage_truth_sustained_transformer"] >= 5
    assert f["outage_truth_sustained_feeder"] >= 2 and f["outage_truth_momentary"] >= 5
    assert f["outage_precision_sustained"] >= 0.97 and f["outage_recall_sustained"] >= 0.97
    assert f["outage_level_agreement"] >= 0.97 and f["outage_planned_agreement"] >= 0.97
    assert f["outage_detected_momentary"] == pytest.approx(f["outage_truth_momentary"], rel=0.1)


def test_restoration_start_and_indices_close_to_truth(figures):
    f, _ = figures
    assert f["outage_restoration_error_minutes_median"] < 5 and f["outage_start_error_minutes_median"] < 1
    assert f["outage_latency_area_seconds_max"] <= 60
    for idx in ("saidi", "saifi"):
        for cat in ("total", "unplanned", "planned"):
            assert f[f"outage_{idx}_{cat}_relative_error"] <= 0.02, (idx, cat)
    assert all(isinstance(v, float) and not (math.isinf(v)) for v in f.values())


def test_plot_written(figures):
    _, reports = figures
    assert (reports / "outage_detection.png").stat().st_size > 10_000
