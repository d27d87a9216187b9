"""VEE estimation on hand-made series: each Part B method where it applies, with its flag and
quality, and nothing estimated from readings that are themselves being replaced."""

import numpy as np

from meters.vee import methods
from meters.vee.estimate import EstimateConfig, estimate
from tests.test_vee_detect import household, series_of

NO_SCALING = EstimateConfig(scale_window_s=0)


def substitutes_at(series, targets, cfg=NO_SCALING):
    subs = estimate(series, targets, cfg)
    return {int(i): (v, int(m), q) for i, v, m, q in zip(subs.index, subs.kwh, subs.method, subs.quality)}


def test_a_short_gap_is_interpolated_between_its_neighbours():
    kwh = household(28)
    kwh[200:203] = np.nan  # 1.5 h, within linear_max_s
    out = substitutes_at(series_of(kwh), np.zeros(len(kwh), bool))
    a, b = kwh[199], kwh[203]
    for k, i in enumerate(range(200, 203), start=1):
        value, flag, quality = out[i]
        assert flag == methods.LINEAR and quality == methods.SUBSTITUTED
        assert value == np.float64(a + (b - a) * k / 4)


def test_a_whole_day_comes_from_its_like_days():
    days = 7 * 8
    weekly = np.tile(household(7, seed=3), 8)  # every week the same: like days are exact for Mon, Fri-Sun
    monday = 7 * 7 * 48  # the last Monday
    weekly[monday:monday + 48] = np.nan
    out = substitutes_at(series_of(weekly), np.zeros(days * 48, bool))
    truth = household(7, seed=3)[:48]
    assert {out[i][1] for i in range(monday, monday + 48)} == {methods.AVERAGE_LIKE_DAY}
    np.testing.assert_allclose([out[i][0] for i in range(monday, monday + 48)], truth)


def test_one_like_day_is_type_14_and_none_falls_back_to_the_profile():
    kwh = household(21)
    kwh[14 * 48:15 * 48] = np.nan  # the third Monday: of the two before it, only the second has data
    kwh[0:48] = np.nan  # the first Monday: no like day before it
    out = substitutes_at(series_of(kwh), np.zeros(len(kwh), bool))
    assert {out[i][1] for i in range(14 * 48, 15 * 48)} == {methods.LIKE_DAY}
    np.testing.assert_allclose([out[i][0] for i in range(14 * 48, 15 * 48)], kwh[7 * 48:8 * 48])
    assert {out[i][1] for i in range(0, 48)} == {methods.ADL}
    assert all(out[i][0] > 0 for i in range(0, 48))


def test_the_like_day_estimate_is_scaled_to_the_level_around_the_gap():
    weekly = np.tile(household(7, seed=3), 8)
    weekly[7 * 7 * 48:] *= 1.5  # the last week runs 50 % higher than its like days
    gap = slice(7 * 7 * 48 + 100, 7 * 7 * 48 + 110)  # 5 h on the last Wednesday
    truth = weekly[gap].copy()
    weekly[gap] = np.nan
    cfg = EstimateConfig(scale_window_s=6 * 3600, linear_max_s=0)
    scaled = estimate(series_of(weekly), np.zeros(len(weekly), bool), cfg)
    plain = estimate(series_of(weekly), np.zeros(len(weekly), bool), NO_SCALING)
    assert np.abs(scaled.kwh - truth).mean() < 0.5 * np.abs(plain.kwh - truth).mean()


def test_suspect_readings_are_replaced_and_never_used_as_history():
    kwh = np.tile(household(7, seed=5), 4)
    spike_day = 2 * 7 * 48  # a Monday with a spike at 19:00
    kwh[spike_day + 38] = 50.0
    kwh[3 * 7 * 48:3 * 7 * 48 + 48] = np.nan  # the next Monday is missing
    targets = np.zeros(len(kwh), bool)
    targets[spike_day + 38] = True  # validation marked the spike
    out = substitutes_at(series_of(kwh), targets)
    assert out[spike_day + 38][0] < 1.0
    assert out[3 * 7 * 48 + 38][0] < 1.0  # the spike did not leak into the next Monday's like days


def test_intervals_after_the_latest_actual_are_forward_estimates():
    kwh = household(21)
    kwh[-60:] = np.nan  # the meter has not reported for 30 hours
    out = substitutes_at(series_of(kwh), np.zeros(len(kwh), bool))
    tail = [out[i] for i in range(len(kwh) - 60, len(kwh))]
    assert {q for _, _, q in tail} == {methods.ESTIMATED}
    assert {f for _, f, _ in tail} <= {methods.PROSPECTIVE_AVERAGE_LIKE_DAY, methods.PROSPECTIVE_LIKE_DAY}


def test_a_meter_without_history_gets_no_substitute():
    kwh = np.full(96, np.nan)
    kwh[0] = 0.2
    s = series_of(kwh)
    targets = np.zeros(96, bool)
    targets[0] = True  # its one reading is suspect: nothing left to estimate from
    subs = estimate(s, targets)
    assert len(subs) == 0
