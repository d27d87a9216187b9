"""The recommendation kinds beyond time shift, tariff and demand response (plan 8.1's opportunities):
virtual power plant for solar + battery homes, smart charging for EV households with evening peaks,
efficiency for high consumption; each where it fits and nowhere else, its saving checked by hand."""

import numpy as np
import pytest

from customer_svc.billing import DAYS_PER_MONTH, load_tariffs
from customer_svc.profiles import DailyProfiles
from customer_svc.recommendations import recommend
from customer_svc.usage_summary import summarise

DAYS = 14
WEEKEND = (np.arange(DAYS) % 7) >= 5


def _summary(kwh: np.ndarray):
    return summarise(DailyProfiles(kwh.astype(np.float32), np.ones(len(kwh), np.float32), WEEKEND,
                                   np.zeros(len(kwh), int)))


def _types(recs, customer: int) -> set[str]:
    return set(recs.of(customer))


def test_each_kind_goes_where_it_fits():
    kwh = np.full((6, DAYS, 24), 0.3)
    kwh[0, :, 19:21] = 2.5  # 0: an evening peak, EV on its record
    kwh[1, :, 19:21] = 2.5  # 1: the same shape, no EV anywhere
    kwh[2, :, 10:15] = 0.0  # 2: solar + battery segment
    kwh[3] = 1.2  # 3: 28.8 kWh a day, a home: high consumption
    kwh[4] = 1.2  # 4: the same use as a business: not an efficiency case
    kwh[5, :, 7:9] = 2.5  # 5: a morning peak, EV on its record: not an evening charger
    segments = ["evening_residential_peak", "evening_residential_peak", "solar_battery_households",
                "retired_home_all_day", "business_hours_commercial", "evening_residential_peak"]
    ev = [True, False, False, False, False, True]
    recs = recommend(_summary(kwh), np.arange(6), ["flat"] * 6, segments, "March 2026", ev)
    assert "smart_charging" in _types(recs, 0) and "smart_charging" not in _types(recs, 1)
    assert "smart_charging" not in _types(recs, 5)
    assert "virtual_power_plant" in _types(recs, 2)
    assert [c for c in range(6) if "virtual_power_plant" in _types(recs, c)] == [2]
    assert [c for c in range(6) if "efficiency" in _types(recs, c)] == [3]


def test_savings_by_hand():
    kwh = np.full((2, DAYS, 24), 0.3)
    kwh[0, :, 19:21] = 2.5
    kwh[1] = 1.2
    recs = recommend(_summary(kwh), np.array([7, 8]), ["flat", "flat"],
                     ["ev_charging_households", "high_consumption_all_day"], "March 2026")
    tariffs = load_tariffs()
    # EV segment, peak at 19:00: 2.2 kWh above the 0.3 base at 19 (peak, 0.52 - 0.20) and 20 (shoulder, 0.30 - 0.20)
    _title, text, saving = recs.of(7)["smart_charging"]
    assert saving == pytest.approx((2.2 * 0.32 + 2.2 * 0.10) * DAYS_PER_MONTH * 5 / 7, abs=0.01)
    assert text.startswith("In March 2026 your use peaked at 7pm on weekday evenings")
    # Efficiency: a fifth of the always-on 1.2 kWh x 24 at the flat rate.
    _title, text, saving = recs.of(8)["efficiency"]
    rate = tariffs["tariffs"]["flat"]["energy_aud_per_kwh"]
    assert saving == pytest.approx(28.8 * 0.2 * DAYS_PER_MONTH * rate, abs=0.01)
    assert text.startswith("In March 2026 your home used 29 kWh a day, 29 kWh of it always on")
    assert "virtual_power_plant" not in recs.of(7)


def test_the_vpp_credit_comes_from_the_tariffs_file():
    kwh = np.full((1, DAYS, 24), 0.3)
    recs = recommend(_summary(kwh), np.array([1]), ["flat"], ["solar_battery_households"], "March 2026")
    assert recs.of(1)["virtual_power_plant"][2] == load_tariffs()["virtual_power_plant_credit_aud_per_month"] > 0
