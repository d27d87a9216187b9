"""Network shape and customer mix of the synthetic fleet."""

import numpy as np
import pytest

from meters.fleet import SEGMENTS, FleetConfig, generate_topology


@pytest.fixture(scope="module")
def topo():
    return generate_topology(FleetConfig(meters=20_000, days=1, seed=11))


def test_segment_shares_match_parameters(topo):
    n = len(topo.customers)
    counts = topo.customers["segment"].value_counts()
    for seg in SEGMENTS:
        sd = np.sqrt(seg.share * (1 - seg.share) / n)
        assert abs(counts.get(seg.key, 0) / n - seg.share) < 4 * sd, seg.key


def test_transformers_serve_25_to_40_customers_and_substations_a_few_thousand(topo):
    per_tx = topo.meters.groupby("transformer_id").size()
    # Only each region's last transformer may be smaller: it takes the remainder.
    assert (~per_tx.between(25, 40)).sum() <= len(FleetConfig().region_shares)
    assert per_tx.between(1, 40).all()
    per_sub = topo.meters.merge(topo.transformers, on="transformer_id").groupby("substation_id").size()
    assert per_sub.max() <= 3_500 and per_sub.median() > 1_500


def test_ids_and_account_numbers(topo):
    m = topo.meters
    assert m["meter_id"].iloc[0] == 1 and (np.diff(m["meter_id"]) == 1).all()
    accounts = topo.customers["account_number"]
    assert accounts.str.fullmatch(r"AC\d{11}").all() and accounts.is_unique
    assert m["meter_number"].is_unique


def test_region_shares_and_attribute_rates(topo):
    cfg = FleetConfig()
    region = topo.substations.set_index("substation_id")["region"]
    tx_region = topo.transformers["substation_id"].map(region)
    meter_region = topo.meters["transformer_id"].map(dict(zip(topo.transformers["transformer_id"], tx_region)))
    shares = meter_region.value_counts(normalize=True)
    for r, share in cfg.region_shares.items():
        assert abs(shares[r] - share) < 0.005, r
    c = topo.customers
    assert c.loc[c["segment"] == "ev_charging_households", "ev_charging"].all()
    assert c.loc[c["segment"] == "solar_battery_households", "solar_installed"].all()
    assert 0.2 < c["solar_installed"].mean() < 0.4
    assert abs(c["demand_response_opted_in"].mean() - cfg.demand_response_share) < 0.02


def test_chunks_are_whole_transformers_of_bounded_size(topo):
    bounds = topo.chunk_bounds
    tx = topo.meters["transformer_id"].to_numpy()
    small = generate_topology(FleetConfig(meters=20_000, seed=11, chunk_meters=3_000))
    b = small.chunk_bounds
    assert b[0] == 0 and b[-1] == 20_000 and len(b) > 5
    assert (np.diff(b) <= 3_000 + 40).all()
    assert all(tx[i - 1] != tx[i] for i in b[1:-1])  # never split a transformer
    assert len(bounds) == 2
