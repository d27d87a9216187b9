"""Tariff billing, recommendations and DR baseline arithmetic, checked by hand on tiny profiles."""

import datetime as dt

import numpy as np
import pytest

from customer_svc.baseline import high_x_of_y
from customer_svc.billing import DAYS_PER_MONTH, monthly_bills
from customer_svc.profiles import DailyProfiles
from customer_svc.recommendations import Recommendations, recommend, recommendation_basis
from customer_svc.segmentation_job import customers_to_renew
from customer_svc.store import _recommendation_rows
from customer_svc.usage_summary import summarise

TARIFFS = {"tariffs": {
    "flat": {"daily_supply_aud": 1.0, "energy_aud_per_kwh": 0.30},
    "time_of_use": {"daily_supply_aud": 1.0, "peak": {"hours": [14, 20], "aud_per_kwh": 0.50},
                    "shoulder": {"hours": [[7, 14], [20, 22]], "aud_per_kwh": 0.25}, "off_peak_aud_per_kwh": 0.10},
    "demand": {"daily_supply_aud": 1.0, "energy_aud_per_kwh": 0.20, "demand_window_hours": [15, 21],
               "demand_aud_per_kw_month": 10.0}}}


def _profiles(kwh: np.ndarray, weekend: np.ndarray) -> DailyProfiles:
    """(customers, days, 24) kWh on the local clock (NaN: no data) and (days,) weekend flags."""
    return DailyProfiles(kwh.astype(np.float32), np.ones(len(kwh), np.float32), weekend, np.zeros(len(kwh), int))


def test_bills_by_hand():
    kwh = np.ones((2, 2, 24))
    kwh[:, 0, 18] = 3.0  # weekday 18:00: peak hour, inside the demand window
    kwh[1, 1] = np.nan  # the second customer has no weekend data: one day covered
    bills = monthly_bills(summarise(_profiles(kwh, np.array([False, True]))), TARIFFS)
    month = DAYS_PER_MONTH
    # flat: 50 kWh over 2 days; 26 kWh over 1 day
    assert bills["flat"] == _cents([month + 50 * 0.30 * month / 2, month + 26 * 0.30 * month])
    # ToU, weekday: peak 6 h (one of 3 kWh) = 8 kWh, shoulder 9 h, off-peak 9 h; weekend all off-peak (24).
    weekday = 8 * 0.50 + 9 * 0.25 + 9 * 0.10
    assert bills["time_of_use"] == _cents([month + (weekday + 24 * 0.10) * month / 2, month + weekday * month])
    # demand: highest weekday hour in 15-21 is 3 kW, a monthly charge (not scaled by the days covered)
    assert bills["demand"] == _cents([month + 50 * 0.20 * month / 2 + 3 * 10.0, month + 26 * 0.20 * month + 3 * 10.0])


def _cents(aud):
    """Equal once rounded to the cent (either way at an exact half)."""
    return pytest.approx(aud, abs=0.005 + 1e-9)


def _direct_bills(kwh: np.ndarray, weekend: np.ndarray) -> dict[str, float]:
    """One customer's TARIFFS bills hour by hour from its (days, 24) profile, NaN hours unknown."""
    energy = {"flat": 0.0, "time_of_use": 0.0, "demand": 0.0}
    peak_kw, hours = 0.0, 0
    for d in range(kwh.shape[0]):
        for h in range(24):
            e = kwh[d, h]
            if np.isnan(e):
                continue
            hours += 1
            energy["flat"] += 0.30 * e
            energy["demand"] += 0.20 * e
            if weekend[d]:
                energy["time_of_use"] += 0.10 * e
            else:
                energy["time_of_use"] += e * (0.50 if 14 <= h < 20 else 0.25 if 7 <= h < 14 or 20 <= h < 22 else 0.10)
                if 15 <= h < 21:
                    peak_kw = max(peak_kw, e)
    scale = DAYS_PER_MONTH / (hours / 24)
    bills = {name: DAYS_PER_MONTH + e * scale for name, e in energy.items()}
    bills["demand"] += 10.0 * peak_kw
    return bills


def test_bills_from_a_summary_equal_hour_by_hour_bills():
    rng = np.random.default_rng(3)
    kwh = rng.lognormal(-1, 1, (5, 31, 24))
    kwh[rng.random(kwh.shape) < 0.05] = np.nan  # gaps: billed from the hours with data
    weekend = (np.arange(31) % 7) >= 5
    bills = monthly_bills(summarise(_profiles(kwh, weekend)), TARIFFS)
    for c in range(5):
        direct = _direct_bills(kwh[c].astype(np.float32).astype(np.float64), weekend)
        for name, bill in direct.items():
            assert bills[name][c] == _cents(bill), (c, name)


def test_recommendations_time_shift_tariff_and_dr():
    kwh = np.full((3, 14, 24), 0.2)
    kwh[0, :, 14:20] = 1.5  # 9 of 12.6 kWh a day in the peak
    kwh[0, ::2, 18:21] += 7.2  # EV charging from 6pm on half the evenings
    kwh[2] = np.nan  # no data this month
    u = summarise(_profiles(kwh, (np.arange(14) % 7) >= 5))
    recs = recommend(u, np.array([11, 12, 13]), ["time_of_use", "demand", "flat"],
                     ["ev_charging_households", "low_consumption", "ev_charging_households"], "January 2026")
    assert set(recs.customer_ids) == {11}  # 0.2 kWh every hour: on its cheapest (demand); no data: nothing
    ev = recs.of(11)
    assert list(ev) == ["time_shift", "tariff_change", "demand_response", "smart_charging"]
    _title, text, saving = ev["time_shift"]
    assert text.startswith("In January 2026, 69% of your use fell in the 2pm-8pm peak. Move EV charging to after 10pm")
    # EV: 5.1 kWh at 19:00 on average over a 0.2 kWh night base; half of it moved at the ToU spread (0.52 - 0.20)
    assert saving == round((5.1 - 0.2) * 0.5 * DAYS_PER_MONTH * (0.52 - 0.20), 2)
    bills = {name: bill[0] for name, bill in monthly_bills(u).items()}
    cheapest = min(bills, key=bills.get)
    assert ev["tariff_change"][2] == pytest.approx(bills["time_of_use"] - bills[cheapest])
    assert f"Billing January 2026 under each offer: time_of_use ${bills['time_of_use']:.2f}" in ev["tariff_change"][1]
    assert ev["demand_response"][2] == 12.0
    # Smart charging: weekday evening (17-23) kWh above the 0.2 base, 1.3, 4.9, 4.9 at the peak spread
    # (0.52 - 0.20) and 3.6 at the shoulder's (0.30 - 0.20), weekdays of an average month.
    assert ev["smart_charging"][2] == pytest.approx((11.1 * 0.32 + 3.6 * 0.10) * DAYS_PER_MONTH * 5 / 7, abs=0.01)
    assert "peaked at 6pm on weekday evenings" in ev["smart_charging"][1]


def test_a_run_renews_recommendations_when_their_basis_moves_else_on_a_segment_change():
    before = np.array(["low_consumption", "ev_charging_households", ""], dtype=object)  # "": never assigned
    now = np.array(["low_consumption", "evening_residential_peak", "low_consumption"], dtype=object)
    basis = recommendation_basis(dt.date(2026, 1, 1), 3)
    assert customers_to_renew(basis, basis, now, before).tolist() == [False, True, True]
    for moved in (recommendation_basis(dt.date(2026, 1, 1), 4), recommendation_basis(dt.date(2026, 2, 1), 3), None):
        assert customers_to_renew(basis, moved, now, before).all()


def test_recommendation_rows_are_copy_text():
    recs = Recommendations(np.array([7, 9]), ["time_shift", "demand_response"], ["Shift", "Join"],
                           ["Move it\tlater", "A \\ B"], np.array([1.5, 12.0]))
    block, = _recommendation_rows(recs, 3)
    assert block == b"7\ttime_shift\tShift\tMove it\\tlater\t1.5\t3\n9\tdemand_response\tJoin\tA \\\\ B\t12.0\t3\n"


def test_high_x_of_y_with_additive_adjustment():
    history = np.ones((12, 24))
    history[np.arange(11), 17] = np.arange(11)  # hour 17 on day d used d kWh
    ok = np.ones(12, dtype=bool)
    today = np.ones(24)
    today[12:15] = 1.1  # adjustment window (3 h ending an hour before 16:00) runs 0.1 above baseline
    b = high_x_of_y(history, ok, event_day=11, hours=np.array([16, 17]), x=4, y=10, event_today=today)
    assert b.days_used == [10, 9, 8, 7]  # highest event-window use among the 10 most recent days
    assert b.adjustment_kwh == pytest.approx(0.1)
    assert b.hourly_kwh == pytest.approx([1.1, (10 + 9 + 8 + 7) / 4 + 0.1])
    capped = high_x_of_y(history, ok, 11, np.array([16, 17]), 10, 10, event_today=today * 3)
    assert capped.adjustment_kwh == pytest.approx(0.2)  # +20 % cap of the window's baseline
