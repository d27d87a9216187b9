"""What a VEE run would change for one meter, from its stored readings and their quality."""

import numpy as np

from meters.vee import methods
from meters.vee.plan import GAP, SPIKE, ZERO_RUN, PlanConfig, interval_of, plan
from tests.test_vee_detect import MONDAY_NEM_MIDNIGHT_UTC, household

HALF_HOUR = 1800
DAYS = 28


def stored(days: int = DAYS):
    kwh = household(days)
    ends = MONDAY_NEM_MIDNIGHT_UTC + HALF_HOUR * np.arange(1, len(kwh) + 1)
    return ends, kwh, np.full(len(kwh), "A")


def drop(ends, kwh, quality, index):
    keep = np.ones(len(ends), bool)
    keep[index] = False
    return ends[keep], kwh[keep], quality[keep]


def test_interval_is_the_commonest_step():
    assert interval_of(np.array([900, 1800, 2700, 4500, 5400])) == 900
    assert interval_of(np.array([900])) == 0


def test_gaps_in_the_window_get_substitutes_and_gaps_before_it_do_not():
    ends, kwh, q = stored()
    ends, kwh, q = drop(ends, kwh, q, np.r_[100:104, 21 * 48 + 10:21 * 48 + 58])
    window = (int(MONDAY_NEM_MIDNIGHT_UTC + 14 * 86_400), int(MONDAY_NEM_MIDNIGHT_UTC + DAYS * 86_400 + 1))
    edits = plan(ends, kwh, q, window, now_s=window[1])
    assert len(edits) == 48 and set(edits.reason) == {GAP}
    assert edits.ends_s.min() == MONDAY_NEM_MIDNIGHT_UTC + HALF_HOUR * (21 * 48 + 11)
    assert np.isnan(edits.before_kwh).all() and (edits.kwh > 0).all()
    assert set(edits.quality) == {methods.SUBSTITUTED} and set(edits.method) <= {14, 15, 17}


def test_a_stored_substitute_is_left_and_is_not_history():
    ends, kwh, q = stored()
    q[200:210] = "S"
    kwh[200:210] = 99.0  # a wild substitute: never history for anything
    ends, kwh, q = drop(ends, kwh, q, np.r_[200 + 7 * 48:210 + 7 * 48])  # a week later, the same hours missing
    edits = plan(ends, kwh, q, (int(ends[0]), int(ends[-1] + 1)), now_s=int(ends[-1]))
    assert not np.isin(ends[200:210], edits.ends_s).any()
    assert len(edits) == 10 and (edits.kwh < 5).all()


def test_suspects_are_substituted_unless_their_run_is_too_long():
    ends, kwh, q = stored()
    kwh[300] = 40.0  # a spike
    kwh[600:610] = 0.0  # 5 h of zeros in a meter that never sits at zero
    window = (int(ends[0]), int(ends[-1] + 1))
    edits = plan(ends, kwh, q, window, now_s=int(ends[-1]))
    assert edits.counts == {GAP: 0, ZERO_RUN: 10, SPIKE: 1} and edits.left_suspect == 0
    spike = edits.ends_s == ends[300]
    assert edits.before_kwh[spike][0] == 40.0 and edits.kwh[spike][0] < 2
    assert (edits.before_kwh[edits.reason == ZERO_RUN] == 0).all()

    ends, kwh, q = stored()
    kwh[900:1000] = 0.0  # 50 h of zeros: longer than max_suspect_run_s, left for a person
    edits = plan(ends, kwh, q, window, now_s=int(ends[-1]), cfg=PlanConfig(max_suspect_run_s=86_400))
    assert len(edits) == 0 and edits.left_suspect == 100


def test_forward_estimates_stop_at_now_and_at_max_forward():
    ends, kwh, q = stored()
    last = int(ends[-1])
    window = (last - 86_400, last + 30 * 86_400)
    edits = plan(ends, kwh, q, window, now_s=last + 5 * 3600, cfg=PlanConfig(max_forward_s=2 * 86_400))
    assert len(edits) == 10 and set(edits.quality) == {methods.ESTIMATED}
    edits = plan(ends, kwh, q, window, now_s=last + 30 * 86_400, cfg=PlanConfig(max_forward_s=2 * 86_400))
    assert len(edits) == 96 and edits.ends_s.max() == last + 2 * 86_400


def test_a_meter_without_actuals_gets_nothing():
    ends, kwh, q = stored(2)
    assert len(plan(ends, kwh, np.full(len(q), "S"), (int(ends[0]), int(ends[-1])), now_s=int(ends[-1]))) == 0
