"""On the fleet's planted outages of a year: every customer-minute counted once, groupings add up."""

import pandas as pd
import pytest

from meters.fleet import FleetConfig
from meters.fleet.events import plan_transformer_events
from meters.fleet.outages import plan_outages
from meters.fleet.topology import generate_topology
from scoring_svc.reliability import month_events, reliability_indices, served_from_topology

CFG = FleetConfig(meters=3000, days=365, seed=5)
TOPO = generate_topology(CFG)
OUTAGES = plan_outages(CFG, TOPO, plan_transformer_events(CFG, TOPO))
SERVED = served_from_topology(TOPO.meters, TOPO.transformers, TOPO.substations)
MONTHS = [p.strftime("%Y-%m") for p in pd.period_range("2026-01", "2027-01", freq="M")]


def test_every_customer_minute_lands_in_exactly_one_month():
    sustained = OUTAGES[~OUTAGES["momentary"]]
    truth = (sustained["customers_affected"] * (sustained["restored_unix_s"] - sustained["started_unix_s"]) / 60).sum()
    counted = sum(reliability_indices(OUTAGES, SERVED, m).set_index("category").loc["total", "customer_minutes"]
                  for m in MONTHS)
    assert counted == pytest.approx(truth)
    events = sum(len(month_events(OUTAGES, SERVED, m).events) for m in MONTHS)
    assert events == len(OUTAGES)


@pytest.mark.parametrize("grouping", ["region", "substation", "feeder"])
def test_groupings_add_up_to_the_network(grouping):
    month = "2026-07"
    net = reliability_indices(OUTAGES, SERVED, month).set_index("category")
    parts = reliability_indices(OUTAGES, SERVED, month, grouping).groupby("category")
    sums = parts[["customers_served", "customer_minutes", "customer_interruptions", "momentary_interruptions"]].sum()
    pd.testing.assert_frame_equal(sums, net[sums.columns].loc[sums.index], check_dtype=False)


def test_unplanned_splits_into_normalised_and_major_event_days():
    med_minutes = 0.0
    for m in MONTHS:
        t = reliability_indices(OUTAGES, SERVED, m).set_index("category")
        med_minutes += t.loc["major_event_days", "customer_minutes"]
        assert t.loc["unplanned", "saidi"] == pytest.approx(t.loc["unplanned_normalised", "saidi"] + t.loc["major_event_days", "saidi"])
        assert t.loc["total", "saifi"] == pytest.approx(t.loc["unplanned", "saifi"] + t.loc["planned", "saifi"])
    assert med_minutes > 0  # the planted storm days make at least one major event day
