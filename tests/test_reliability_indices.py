"""Index arithmetic on a hand-made month: sustained, planned, momentary, day and month attribution."""

import math

import pandas as pd
import pytest

from scoring_svc.reliability import reliability_indices
from scoring_svc.reliability.served import customers_served
from tests.reliability_cases import NOVEMBER, SERVED, frame, outage


def _row(table, category, **group):
    sel = table["category"] == category
    for k, v in group.items():
        sel &= table[k] == v
    assert sel.sum() == 1
    return table[sel].iloc[0]


def test_network_indices_by_hand():
    t = reliability_indices(NOVEMBER, SERVED, "2026-11")
    total = _row(t, "total")
    # sustained: 1800 + 1200 + 90 customer-minutes, 60 + 10 + 1 customers, over 100 served
    assert total["customers_served"] == 100
    assert total["customer_minutes"] == pytest.approx(3090)
    assert total["saidi"] == pytest.approx(30.9)
    assert total["saifi"] == pytest.approx(0.71)
    assert total["caidi"] == pytest.approx(30.9 / 0.71)
    assert total["maifi"] == pytest.approx(0.40)  # the 1-minute interruption of 40 customers
    assert total["sustained_events"] == 3 and total["momentary_events"] == 1
    unplanned = _row(t, "unplanned")
    assert (unplanned["saidi"], unplanned["saifi"]) == pytest.approx((18.9, 0.61))
    planned = _row(t, "planned")
    assert (planned["saidi"], planned["saifi"], planned["caidi"], planned["maifi"]) == pytest.approx((12.0, 0.1, 120.0, 0.0))
    # three non-zero unplanned days (Oct 31, Nov 3, Nov 30): none stands 2.5 beta out
    assert _row(t, "major_event_days")["saidi"] == 0
    assert _row(t, "unplanned_normalised")["saidi"] == pytest.approx(18.9)


def test_feeder_and_region_groupings():
    t = reliability_indices(NOVEMBER, SERVED, "2026-11", "feeder")
    f1, f2 = _row(t, "total", feeder_id=1), _row(t, "total", feeder_id=2)
    assert f1["customers_served"] == 60 and f1["saidi"] == pytest.approx((1800 + 90) / 60)
    assert f1["saifi"] == pytest.approx(61 / 60) and f1["maifi"] == 0
    assert f2["saidi"] == pytest.approx(1200 / 40) and f2["maifi"] == pytest.approx(1.0)
    r = reliability_indices(NOVEMBER, SERVED, "2026-11", "region")
    assert _row(r, "planned", region="VIC")["saifi"] == pytest.approx(10 / 40)
    assert _row(r, "planned", region="NSW")["saifi"] == 0


def test_start_day_attribution_across_midnight_and_month():
    october = _row(reliability_indices(NOVEMBER, SERVED, "2026-10"), "total")
    assert october["customer_minutes"] == pytest.approx(120)  # started Oct 31 23:00, ended in November
    december = _row(reliability_indices(NOVEMBER, SERVED, "2026-12"), "total")
    assert december["customer_minutes"] == pytest.approx(45 * 5)  # started Dec 1 00:30 local, Nov 30 UTC


def test_caidi_is_undefined_without_interruptions():
    only_momentary = frame([outage(1, 1, "2026-11-02 08:00", 2, 60)])
    t = reliability_indices(only_momentary, SERVED, "2026-11")
    total = _row(t, "total")
    assert total["saifi"] == 0 and total["saidi"] == 0 and math.isnan(total["caidi"])
    assert total["maifi"] == pytest.approx(0.6)


def test_open_outage_counts_to_month_end_and_momentary_is_three_minutes():
    o = frame([outage(1, 1, "2026-11-30 23:00", 60, 10), outage(2, 2, "2026-11-10 10:00", 3, 40),
               outage(3, 2, "2026-11-11 10:00", 3.5, 40)])
    o.loc[0, "restored_unix_s"] = float("nan")
    o = o.drop(columns="momentary")  # derived from duration: <= 180 s is momentary
    total = _row(reliability_indices(o, SERVED, "2026-11"), "total")
    assert total["customer_minutes"] == pytest.approx(10 * 60 + 40 * 3.5)
    assert total["momentary_interruptions"] == 40 and total["customer_interruptions"] == 50


def test_customers_served_from_meters_or_counts():
    meters = pd.DataFrame({"meter_id": range(5), "region": ["NSW"] * 3 + ["VIC"] * 2,
                           "substation_id": [1, 1, 1, 2, 2], "feeder_id": [1, 1, 3, 2, 2]})
    by_feeder = customers_served(meters, ["feeder_id"])
    assert by_feeder.set_index("feeder_id")["customers_served"].to_dict() == {1: 2, 2: 2, 3: 1}
    assert customers_served(SERVED, ["region"]).set_index("region")["customers_served"].to_dict() == {"NSW": 60, "VIC": 40}


def test_bad_month_and_grouping_are_refused():
    with pytest.raises(ValueError, match="YYYY-MM"):
        reliability_indices(NOVEMBER, SERVED, "2026-13")
    with pytest.raises(ValueError, match="grouping"):
        reliability_indices(NOVEMBER, SERVED, "2026-11", "transformer")
