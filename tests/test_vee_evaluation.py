"""VEE's evaluation on the real SGSC households (data/): gaps are cut only where the truth is
known, and on held-out households our substitutes beat the same-time-last-week baseline."""

import numpy as np

from meters.ml_jobs import MlJob
from meters.model_registry import ModelRegistry
from meters.vee import sgsc
from meters.vee.cuts import cut_gaps, cut_mask
from meters.vee.detect import detect
from meters.vee.evaluation import TUNING_HOUSEHOLDS, evaluate, split


def test_households_are_split_into_tuning_and_held_out_without_overlap():
    meters = list(range(100, 150))
    tuning, held_out = split(meters)
    assert len(tuning) == TUNING_HOUSEHOLDS and not set(tuning) & set(held_out)
    assert sorted(tuning + held_out) == meters and split(meters) == (tuning, held_out)


def test_gaps_are_cut_only_on_clean_readings_and_whole_days_start_at_local_midnight():
    series = sgsc.load()
    s = series[min(series)]
    clean = ~detect(s).targets
    cuts = cut_gaps(s, clean, np.random.default_rng(1))
    assert len(cuts) > 20
    mask = cut_mask(len(s), cuts)
    assert clean[mask].all()
    days = [c for c in cuts if c.kind == "1 day"]
    assert days and all(s.slot_of_day()[c.start] == 0 and c.length == 48 for c in days)
    assert {c.kind for c in cuts} == {"30 min", "1-2 h", "2-6 h", "1 day"}


def test_quick_evaluation_beats_last_week_on_held_out_households(tmp_path):
    figures = evaluate(MlJob(ModelRegistry(tmp_path / "models"), tmp_path, seed=7, quick=True))
    assert figures["vee_households"] == 4
    assert figures["vee_mae_all_ours"] < figures["vee_mae_all_last_week"]
    assert abs(figures["vee_bias_all_ours"]) < 0.05 * figures["vee_actual_mean_kwh"]
    assert figures["vee_spike_recall"] > 0.9
    assert (tmp_path / "vee_mae_by_gap_length.png").stat().st_size > 10_000
