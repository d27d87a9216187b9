"""Tariff billing, recommendations and DR baseline arithmetic, checked by hand on tiny profiles."""

import numpy as np
import pytest

from customer_svc.baseline import high_x_of_y
from customer_svc.billing import DAYS_PER_MONTH, Usage, all_bills
from customer_svc.recommendations import recommend

TARIFFS = {"tariffs": {
    "flat": {"daily_supply_aud": 1.0, "energy_aud_per_kwh": 0.30},
    "time_of_use": {"daily_supply_aud": 1.0, "peak": {"hours": [14, 20], "aud_per_kwh": 0.50},
                    "shoulder": {"hours": [[7, 14], [20, 22]], "aud_per_kwh": 0.25}, "off_peak_aud_per_kwh": 0.10},
    "demand": {"daily_supply_aud": 1.0, "energy_aud_per_kwh": 0.20, "demand_window_hours": [15, 21],
               "demand_aud_per_kw_month": 10.0}}}


def test_bills_by_hand():
    kwh = np.ones((2, 24))
    kwh[0, 18] = 3.0  # weekday 18:00: peak hour, inside the demand window
    usage = Usage(kwh, np.array([False, True]))
    bills = all_bills(usage, TARIFFS)
    month = DAYS_PER_MONTH
    # flat: 50 kWh over 2 days
    assert bills["flat"] == pytest.approx(round(month + 50 * 0.30 * month / 2, 2))
    # ToU, weekday: peak 6 h (one of 3 kWh) = 8 kWh, shoulder 9 h, off-peak 9 h; weekend all off-peak (24).
    energy = 8 * 0.50 + 9 * 0.25 + 9 * 0.10 + 24 * 0.10
    assert bills["time_of_use"] == pytest.approx(round(month + energy * month / 2, 2))
    # demand: highest weekday hour in 15-21 is 3 kW
    assert bills["demand"] == pytest.approx(round(month + 50 * 0.20 * month / 2 + 3 * 10.0, 2))


def test_recommendations_time_shift_tariff_and_dr():
    kwh = np.full((14, 24), 0.2)
    kwh[:, 14:20] = 1.5  # 9 of 13.2 kWh a day in the peak
    kwh[::2, 18:21] += 7.2  # EV charging from 6pm on half the evenings
    usage = Usage(kwh, (np.arange(14) % 7) >= 5)
    recs = {r.recommendation_type: r for r in recommend(usage, "time_of_use", "ev_charging_households")}
    assert "EV charging" in recs["time_shift"].description
    assert recs["time_shift"].estimated_monthly_savings_aud > 0
    assert recs["tariff_change"].estimated_monthly_savings_aud >= 1.0  # peak-heavy: ToU is not the cheapest
    assert recs["demand_response"].estimated_monthly_savings_aud == 12.0


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
