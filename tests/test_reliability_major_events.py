"""IEEE 1366 2.5 beta method on a hand-computed history, and MEDs set apart in the indices."""

import math

import pandas as pd
import pytest

from scoring_svc.reliability import month_events, reliability_indices
from scoring_svc.reliability.major_events import threshold
from tests.reliability_cases import SERVED, frame, outage

E2 = math.exp(2)


def _day(saidi: float, date: str, oid: int) -> dict:
    # 10 of the 100 customers off for 10 * saidi minutes: that day's SAIDI is `saidi`
    return outage(oid, 1, f"{date} 10:00", 10 * saidi, 10, cause="weather")


def _history() -> pd.DataFrame:
    days = pd.date_range("2026-10-01", periods=40, freq="D")  # Oct 1 - Nov 9
    rows = [_day(1.0 if i < 20 else E2, d.strftime("%Y-%m-%d"), i) for i, d in enumerate(days)]
    rows.append(_day(1000.0, "2026-11-15", 99))  # the storm
    rows.append(outage(100, 2, "2026-11-15 11:00", 600, 40, planned=True))  # planned work that day: never a MED
    return frame(rows)


def test_threshold_by_hand():
    # ln SAIDI: twenty 0s and twenty 2s: alpha = 1, beta = sqrt(40 / 39) = 1.012739, T = e^(1 + 2.5 beta)
    daily = pd.Series([1.0] * 20 + [E2] * 20 + [0.0] * 5)  # zero days left out
    t_med, alpha, beta = threshold(daily)
    assert (alpha, beta, t_med) == pytest.approx((1.0, 1.0127394, 34.187101))
    # plus a 1000-minute day: alpha = 1.144092, beta = 1.360609, T_MED = 94.218
    t_med, alpha, beta = threshold(pd.concat([daily, pd.Series([1000.0])]))
    assert (alpha, beta, t_med) == pytest.approx((1.1440916, 1.3606094, 94.218359))
    assert math.isinf(threshold(pd.Series([5.0, 0.0]))[0])  # one non-zero day: no threshold


def test_storm_day_is_a_major_event_day_and_set_apart():
    me = month_events(_history(), SERVED, "2026-11")
    assert me.major_events.t_med == pytest.approx(94.218359)
    assert list(me.major_events.days) == [pd.Timestamp("2026-11-15")]
    t = reliability_indices(_history(), SERVED, "2026-11").set_index("category")
    assert t.loc["major_event_days", "saidi"] == pytest.approx(1000.0)
    assert t.loc["unplanned_normalised", "saidi"] == pytest.approx(9 * E2)  # Nov 1-9
    assert t.loc["unplanned", "saidi"] == pytest.approx(1000.0 + 9 * E2)
    assert t.loc["planned", "saidi"] == pytest.approx(600 * 40 / 100)  # not a MED's, though on the day
    assert t.loc["major_event_days", "saifi"] == pytest.approx(0.1)


def test_history_beyond_five_years_is_ignored():
    old = frame([_day(1e6, "2021-10-01", 500)])  # more than five years before November 2026 ends
    me = month_events(pd.concat([_history(), old], ignore_index=True), SERVED, "2026-11")
    assert me.major_events.t_med == pytest.approx(94.218359)
