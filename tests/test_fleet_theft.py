"""Planted theft: the meter loses its share, the transformer does not; the energy balance holds with losses."""

import numpy as np
import pandas as pd
import pytest

from meters.fleet import FleetConfig, generate_topology, iter_fleet_chunks
from meters.fleet.config import OutageRates
from meters.fleet.theft import plan_thefts

# Clean physics: no anomalies, transformer events or outages, signed register, so sums compare.
CLEAN = FleetConfig(meters=2_000, days=6, seed=13, chunk_meters=1_000, signed_net_flow=True,
                    anomaly_rates={k: 0.0 for k in FleetConfig().anomaly_rates}, failure_rate_per_week=0.0, degradation_only_rate_per_week=0.0,
                    outage_rates=OutageRates(scale=0.0))


def _run(cfg, topo, thefts):
    readings, tel = [], []
    for fc in iter_fleet_chunks(cfg, topo, thefts=thefts):
        r = fc.readings
        readings.append(pd.DataFrame({"meter_id": r.meter_ids, "t": r.reading_times_unix_s, "kwh": r.consumption_kwh}))
        tel.append(pd.DataFrame(fc.transformer_hourly))
    return pd.concat(readings, ignore_index=True), pd.concat(tel, ignore_index=True)


@pytest.fixture(scope="module")
def runs():
    topo = generate_topology(CLEAN)
    thefts = plan_thefts(CLEAN, topo)
    with_theft = _run(CLEAN, topo, thefts)
    without = _run(CLEAN, topo, thefts.iloc[0:0])
    return topo, thefts, with_theft, without


def test_theft_plan_shares_and_determinism():
    cfg = FleetConfig(meters=20_000, days=365, seed=3)
    topo = generate_topology(cfg)
    t = plan_thefts(cfg, topo)
    assert t.equals(plan_thefts(cfg, topo))
    assert list(t.columns) == ["meter_id", "transformer_id", "started_unix_s", "unmetered_share", "kind", "tamper_event"]
    assert 0.005 <= len(t) / cfg.meters <= 0.01 and t["meter_id"].is_unique
    bypass = t[t["kind"] == "bypass"]
    assert bypass["unmetered_share"].between(0.15, 0.60).all()
    assert 0.3 < bypass["tamper_event"].mean() < 0.7
    assert (t["kind"] == "flatline").sum() > 0 and t.loc[t["kind"] == "flatline", "tamper_event"].all()
    assert t["started_unix_s"].between(cfg.start_unix_s, cfg.end_unix_s).all()


def test_theft_lowers_metered_energy_but_not_the_transformers(runs):
    topo, thefts, (r1, tel1), (r0, tel0) = runs
    assert len(thefts) >= 10
    pd.testing.assert_series_equal(tel1["energy_kwh"], tel0["energy_kwh"])
    solar = topo.meter_parameters["solar_kw"].to_numpy() > 0
    checked = 0
    for th in thefts.itertuples():
        after0 = r0[(r0["meter_id"] == th.meter_id) & (r0["t"] > th.started_unix_s)]["kwh"].sum()
        after1 = r1[(r1["meter_id"] == th.meter_id) & (r1["t"] > th.started_unix_s)]["kwh"].sum()
        before = r1[(r1["meter_id"] == th.meter_id) & (r1["t"] <= th.started_unix_s)]["kwh"]
        before0 = r0[(r0["meter_id"] == th.meter_id) & (r0["t"] <= th.started_unix_s)]["kwh"]
        assert np.array_equal(before.to_numpy(), before0.to_numpy())
        if solar[th.meter_id - 1] or after0 < 1.0:
            continue
        if th.kind == "bypass":
            assert after1 / after0 == pytest.approx(1 - th.unmetered_share, abs=0.03)
        else:
            flat = r1[(r1["meter_id"] == th.meter_id) & (r1["t"] > th.started_unix_s)]["kwh"]
            assert flat.nunique() == 1 and after1 < 0.2 * after0
        checked += 1
    assert checked >= 5


def test_transformer_energy_is_its_meters_true_energy_plus_losses(runs):
    topo, _, _, (r0, tel0) = runs
    r0 = r0.assign(transformer_id=topo.meters["transformer_id"].to_numpy()[r0["meter_id"] - 1],
                   hour=(r0["t"] - 1) // 3600 * 3600 + 3600)
    metered = r0.groupby(["transformer_id", "hour"])["kwh"].sum()
    tel = tel0.set_index(["transformer_id", "hour_end_unix_s"])["energy_kwh"]
    both = pd.concat([metered.rename("m"), tel.rename("tx")], axis=1, join="inner")
    busy = both[both["m"] > 5.0]
    loss = (busy["tx"] - busy["m"]) / busy["m"]
    assert len(busy) > 1000
    # A few % technical losses, load dependent and noisy: never exact, never negative on import hours.
    assert 0.01 < loss.median() < 0.06 and loss.std() > 0.002 and (loss > 0).mean() > 0.99
    total = both[both["m"] > 0]
    assert total["tx"].sum() / total["m"].sum() == pytest.approx(1.03, abs=0.025)
