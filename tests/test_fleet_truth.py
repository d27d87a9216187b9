"""Planted transformer failures: precursors inside the 48-72 h window, outages, recoveries; demand truth."""

import numpy as np
import pandas as pd
import pytest

from meters.fleet import ANOMALY_CODES, FleetConfig, generate_topology, iter_fleet_chunks, plan_transformer_events
from meters.fleet.generate import TruthAccumulator

# High event rates so a small fleet still has enough failures to test.
CFG = FleetConfig(meters=6_000, days=7, seed=9, failure_rate_per_week=0.12, degradation_only_rate_per_week=0.12)


@pytest.fixture(scope="module")
def run():
    topo = generate_topology(CFG)
    events = plan_transformer_events(CFG, topo)
    tel, missing, sags, acc = [], [], [], TruthAccumulator(CFG)
    for fc in iter_fleet_chunks(CFG, topo, events):
        tel.append(pd.DataFrame(fc.transformer_hourly))
        missing.append(pd.DataFrame(fc.missing))
        r = fc.readings
        s = r.anomaly_type == ANOMALY_CODES["voltage_sag"]
        sags.append(pd.DataFrame({"meter_id": r.meter_ids[s], "t": r.reading_times_unix_s[s]}))
        acc.add_demand(fc)
    return topo, events, pd.concat(tel), pd.concat(missing), pd.concat(sags), acc


def test_event_leads_are_48_to_72_hours_and_inside_the_run(run):
    _, events, *_ = run
    fails = events[events["event_type"] == "failure"]
    assert len(fails) >= 5 and (events["event_type"] == "degradation_recovered").sum() >= 5
    lead_h = (events["event_unix_s"] - events["degradation_start_unix_s"]) / 3600
    assert lead_h.between(48, 72).all()
    assert (events["degradation_start_unix_s"] >= CFG.start_unix_s).all()
    assert (events["event_unix_s"] < CFG.end_unix_s).all()


def _window_means(tel, events, column):
    """Mean of a telemetry column in the 24 h before each event vs the same hours two days earlier."""
    late, base = [], []
    for ev in events.itertuples():
        t = tel[tel["transformer_id"] == ev.transformer_id]
        hours = t["hour_end_unix_s"]
        late.append(t.loc[(hours > ev.event_unix_s - 86_400) & (hours <= ev.event_unix_s), column].mean())
        before = ev.degradation_start_unix_s
        base.append(t.loc[(hours > before - 86_400) & (hours <= before), column].mean())
    return np.array(late), np.array(base)


def _residuals(tel, events):
    """Oil rise and log loss ratio minus what load explains (a fit on hours with no event), as telemetry columns."""
    eff = tel["efficiency"].to_numpy()
    ok = tel["in_service"].to_numpy() & np.isfinite(eff) & (eff > 0) & (eff < 1)
    t = tel[ok].copy()
    u = t["load_utilization"].to_numpy()
    x = np.column_stack([np.ones_like(u), u, u**2, u**3])
    rise = (t["oil_temp_c"] - t["ambient_temp_c"]).to_numpy()
    loss = np.log(1.0 / t["efficiency"].to_numpy() - 1.0)
    quiet = ~t["transformer_id"].isin(events["transformer_id"]).to_numpy()
    for name, y in (("oil_res", rise), ("loss_res", loss)):
        coef = np.linalg.lstsq(x[quiet], y[quiet], rcond=None)[0]
        t[name] = y - x @ coef
    return t


def test_faults_heat_and_lose_beyond_load_while_stress_is_explained(run):
    _, events, tel, *_ = run
    inside = events["degradation_start_unix_s"] >= CFG.start_unix_s + 86_400
    fails = events[(events["event_type"] == "failure") & inside]
    stress = events[(events["event_type"] == "degradation_recovered") & inside]
    assert len(fails) >= 3 and len(stress) >= 3
    res = _residuals(tel, events)
    oil_late, oil_base = _window_means(res, fails, "oil_res")
    loss_late, loss_base = _window_means(res, fails, "loss_res")
    # Faults: heat and losses the load does not explain, on most units (faint faults exist by design).
    assert np.mean(oil_late - oil_base > 1.0) >= 0.7 and np.median(oil_late - oil_base) > 2.0
    assert np.mean(loss_late - loss_base > 0.05) >= 0.7
    eff_late, eff_base = _window_means(tel, fails, "efficiency")
    assert np.mean(eff_late < eff_base) >= 0.8
    # Recoverable stress: load really rises, yet its heating and losses are what that load explains.
    util_late, util_base = _window_means(tel, stress, "load_utilization")
    assert np.median(util_late / util_base) > 1.05
    s_oil_late, s_oil_base = _window_means(res, stress, "oil_res")
    assert abs(np.median(s_oil_late - s_oil_base)) < 1.0
    assert np.median(oil_late - oil_base) > 2 * abs(np.median(s_oil_late - s_oil_base)) + 1.0


def test_fault_precursor_is_measurable_early(run):
    """Step-then-ramp: a fault's excess heating 48 h out is already a sizeable share of its last day's."""
    _, events, tel, *_ = run
    fails = events[(events["event_type"] == "failure") & (events["degradation_start_unix_s"] >= CFG.start_unix_s + 86_400)]
    res = _residuals(tel, events)
    early, late = [], []
    for ev in fails.itertuples():
        t = res[res["transformer_id"] == ev.transformer_id]
        h = t["hour_end_unix_s"]
        base = t.loc[(h > ev.degradation_start_unix_s - 86_400) & (h <= ev.degradation_start_unix_s), "oil_res"].mean()
        first = t.loc[(h > ev.degradation_start_unix_s) & (h <= ev.degradation_start_unix_s + 12 * 3600), "oil_res"].mean()
        last = t.loc[(h > ev.event_unix_s - 12 * 3600) & (h <= ev.event_unix_s), "oil_res"].mean()
        early.append(first - base)
        late.append(last - base)
    assert np.median(np.array(early) / np.maximum(np.array(late), 0.5)) > 0.25


def test_failed_transformers_drop_their_meters_until_restored(run):
    topo, events, tel, missing, *_ = run
    outages = missing[missing["anomaly_type"] == ANOMALY_CODES["transformer_outage"]]
    tx_of = topo.meters["transformer_id"].to_numpy()
    assert set(np.unique(tx_of[outages["meter_id"] - 1])) <= set(events.loc[events["event_type"] == "failure", "transformer_id"])
    for ev in events[events["event_type"] == "failure"].itertuples():
        t = outages[tx_of[outages["meter_id"] - 1] == ev.transformer_id]["reading_time_unix_s"]
        if ev.event_unix_s < CFG.end_unix_s - 3600:
            assert len(t) > 0 and t.min() > ev.event_unix_s and t.max() <= ev.end_unix_s + CFG.interval_seconds
        down = tel[(tel["transformer_id"] == ev.transformer_id) & ~tel["in_service"]]["hour_end_unix_s"]
        assert (down > ev.event_unix_s).all()
    recovered = events.loc[events["event_type"] == "degradation_recovered", "transformer_id"]
    assert not tel[tel["transformer_id"].isin(recovered)]["in_service"].eq(False).any()


def test_sag_anomalies_rise_before_failure(run):
    topo, events, _, _, sags, _ = run
    tx_of = topo.meters["transformer_id"].to_numpy()
    sags = sags.assign(tx=tx_of[sags["meter_id"] - 1])
    late = base = 0
    for ev in events[events["event_type"] == "failure"].itertuples():
        s = sags[sags["tx"] == ev.transformer_id]["t"]
        late += ((s > ev.event_unix_s - 12 * 3600) & (s <= ev.event_unix_s)).sum()
        base += ((s > ev.degradation_start_unix_s - 12 * 3600) & (s <= ev.degradation_start_unix_s)).sum()
    assert late > 3 * max(base, 1)


def test_regional_demand_is_the_sum_of_what_meters_drew(run):
    *_, acc = run
    demand = acc.regional_demand()
    assert set(demand["region"]) == set(CFG.region_shares)
    assert len(demand) == len(CFG.region_shares) * CFG.days * CFG.intervals_per_day
    nsw = demand[demand["region"] == "NSW"]["demand_mw"].to_numpy()
    # Roughly 1.44 k NSW meters at ~0.5-1 kW average: a few hundred kW to a couple of MW.
    assert 0.2 < nsw.mean() < 3.0 and nsw.max() > 1.5 * nsw.min()
