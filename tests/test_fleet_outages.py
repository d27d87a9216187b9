"""Feeders, planted supply outages and their agreement with interval data."""

import numpy as np
import pytest

from meters.fleet import FleetConfig, generate_topology

TOPO_CFG = FleetConfig(meters=20_000, days=1, seed=11)


@pytest.fixture(scope="module")
def big_topo():
    return generate_topology(TOPO_CFG)


def test_feeders_split_each_substation_into_a_handful(big_topo):
    f, tx = big_topo.feeders, big_topo.transformers
    assert f["feeder_id"].is_unique and (f["voltage_kv"] == 11.0).all()
    per_sub = f.groupby("substation_id").size()
    assert per_sub.median() >= 3 and per_sub.max() <= 8
    # Only a substation's last feeder may be short (it takes the remainder).
    assert (f["transformers"] > 40).sum() == 0 and (f["transformers"] < 12).sum() <= len(per_sub)
    # Every transformer on one feeder of its own substation; feeders are contiguous id ranges.
    joined = tx.merge(f, on="feeder_id", suffixes=("", "_f"))
    assert len(joined) == len(tx) and (joined["substation_id"] == joined["substation_id_f"]).all()
    assert (np.diff(tx["feeder_id"].to_numpy()) >= 0).all()
    assert f["customers"].sum() == len(big_topo.meters)
    assert set(f["category"]) <= {"urban", "short_rural", "long_rural"}


def test_feeders_leave_the_rest_of_the_topology_alone(big_topo):
    again = generate_topology(TOPO_CFG)
    assert again.feeders.equals(big_topo.feeders)
    assert big_topo.transformers.drop(columns="feeder_id").columns.tolist() == [
        "transformer_id", "transformer_number", "substation_id", "capacity_kva", "age_years", "last_maintenance_unix_s"]
