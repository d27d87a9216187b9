"""Segmentation stability on the real SGSC households: the hourly fold and the month-pair figures."""

import numpy as np
import pytest

from customer_svc.sgsc_stability import MIN_HOUSEHOLDS, hourly_usage, stability
from meters.nem12.sgsc import sgsc_intervals


@pytest.fixture(scope="module")
def intervals():
    return sgsc_intervals()


def test_hourly_usage_keeps_every_kwh_and_the_peak_in_kw(intervals):
    hourly = hourly_usage(intervals)
    assert hourly.kwh.sum() == pytest.approx(intervals.kwh.sum(), rel=1e-9)
    assert not hourly.duplicated(["customer_id", "hour_start"]).any()
    assert (hourly.hour_start % 3600 == 0).all()
    assert hourly.max_kw.max() == pytest.approx(2 * intervals.kwh.max())  # 30-minute kWh -> kW


def test_stability_compares_only_households_judged_in_both_runs():
    keys = np.array(["a", "b", "c"] * 5, dtype=object)
    shuffled = keys.copy()
    shuffled[:6] = shuffled[:6][::-1]
    sparse = keys.copy()
    sparse[: len(keys) - MIN_HOUSEHOLDS + 1] = None
    pairs = stability({"2013-01": keys, "2013-02": keys.copy(), "2013-03": shuffled, "2013-04": sparse})
    assert list(pairs.month) == ["2013-02", "2013-03"]  # 2013-04 has too few comparable households
    same, moved = pairs.iloc[0], pairs.iloc[1]
    assert (same.ari, same.unchanged, same.households) == (1.0, 1.0, 15)
    assert moved.unchanged == pytest.approx(11 / 15) and moved.ari < 1.0
