"""anomaly_features' spike and zero-run features against brute force, and the per-type thresholds of
the detector's calibration. Fast: no model is trained."""

import numpy as np
import pandas as pd
import pytest

from scoring_svc.models.anomaly import ALERT_THRESHOLD, Calibration
from scoring_svc.models.anomaly_features import FEATURES, reading_features, trailing_max, zero_run_length
from scoring_svc.models.anomaly_real import alert_figures, sgsc_columns


def test_trailing_max_is_the_max_of_the_same_meters_previous_rows():
    rng = np.random.default_rng(3)
    m = np.sort(rng.integers(0, 6, 300))
    x = rng.normal(size=300) * 5
    x[[7, 40]] = np.nan
    for rows in (1, 2, 5, 96):
        got = trailing_max(m, x, rows)
        for i in range(len(x)):
            prev = [x[j] for j in range(max(0, i - rows), i) if m[j] == m[i] and np.isfinite(x[j])]
            if prev:
                assert got[i] == pytest.approx(max(prev), abs=1e-9), (rows, i)
            else:
                assert np.isnan(got[i]), (rows, i)


def test_zero_run_length_counts_the_current_run_within_one_meter():
    m = np.array([1, 1, 1, 1, 2, 2, 2, 2, 3, 3])
    kwh = np.array([0.0, 0.0, 0.4, 0.0, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0])
    assert zero_run_length(m, kwh).tolist() == [1, 2, 0, 1, 1, 2, 0, 1, 1, 2]


def test_spike_tops_the_meters_own_24h_max_and_a_zero_run_grows():
    n = 200
    t = 1_700_000_000 + 900 * np.arange(n)
    kwh = np.full(n, 0.2)
    kwh[150] = 2.5  # a spike
    kwh[170:178] = 0.0  # 2 h of zeros
    nan = np.full(n, np.nan)
    cols = sgsc_columns(pd.DataFrame({"customer_id": np.ones(n, dtype=int), "interval_end_unix_s": t, "kwh": kwh}))
    cols = type(cols)(cols.meter_ids, cols.reading_times_unix_s, kwh, kwh * 4, nan, nan, nan)
    f = reading_features(cols, 900)
    over, run = f[:, FEATURES.index("log_kwh_over_max")], f[:, FEATURES.index("zero_run_hours")]
    assert over[150] > 2.0 and abs(over[149]) < 1e-6
    assert run[177] == 2.0 and run[170] == 0.25 and run[169] == 0.0


def test_a_type_threshold_alerts_as_its_type_where_the_combined_score_does_not():
    cal = Calibration(np.array([0.0, 1.0, 0.0]), threshold=0.9, type_thresholds={4: 0.3})
    p = np.array([0.5, 0.5, 0.95])  # combined probability: below, below, above its threshold
    probs = np.array([[0.6, 0.05, 0.05, 0.0, 0.3, 0.0, 0.0],  # spike at its own threshold
                      [0.8, 0.05, 0.05, 0.0, 0.1, 0.0, 0.0],  # spike below it
                      [0.0, 0.9, 0.0, 0.0, 0.1, 0.0, 0.0]])  # sag by the combined score
    score, kind = cal.scores_and_types(p, probs)
    flagged = score >= ALERT_THRESHOLD
    assert flagged.tolist() == [True, False, True]
    assert kind[0] == 4 and kind[2] == 1
    assert score[0] == ALERT_THRESHOLD


def test_sgsc_alerts_count_one_per_household_type_and_day():
    day = 86_400
    scored = pd.DataFrame({"meter": [0, 0, 0, 1, 1, 2], "t": [0, 1800, day, 0, day, 0],
                           "kwh": [1.0, 1.2, 0.0, 0.1, 0.0, 0.0], "score": [0.9, 0.95, 0.1, 0.2, 0.9, 0.0],
                           "flagged": [True, True, False, False, True, False], "kind": [4, 4, 0, 0, 5, 0],
                           "day": [0, 0, 1, 0, 1, 0]})
    f = alert_figures(scored)
    meter_days = 5  # (0,0) (0,1) (1,0) (1,1) (2,0)
    assert f["anomaly_sgsc_meter_days"] == meter_days
    assert f["anomaly_sgsc_alerts_per_day_per_1000"] == 2 * 1000 / meter_days
    assert f["anomaly_sgsc_alerts_per_day_per_1000_consumption_spike"] == 1000 / meter_days
    assert f["anomaly_sgsc_flagged_readings_per_day_per_1000"] == 3 * 1000 / meter_days
    assert f["anomaly_sgsc_all_zero_days"] == 3 and f["anomaly_sgsc_all_zero_days_flagged"] == 1


def test_a_type_probability_below_its_threshold_leaves_the_combined_score():
    cal = Calibration(np.array([0.0, 1.0, 0.0]), threshold=0.5, type_thresholds={2: 0.2})
    probs = np.array([[0.85, 0.0, 0.15, 0.0, 0.0, 0.0, 0.0]])
    score, _ = cal.scores_and_types(np.array([0.01]), probs)
    assert score[0] == 0.01 / 0.5 * ALERT_THRESHOLD
