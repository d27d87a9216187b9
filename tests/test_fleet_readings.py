"""Readings: physics, streaming shape, anomaly rates and realism levels."""

import numpy as np
import pytest

from meters.fleet import ANOMALY_CODES, FleetConfig, generate_topology, iter_fleet_chunks, iter_reading_chunks

CFG = FleetConfig(meters=3_000, days=3, seed=5, chunk_meters=1_000)


@pytest.fixture(scope="module")
def fleet():
    topo = generate_topology(CFG)
    chunks = list(iter_fleet_chunks(CFG, topo))
    cols = {k: np.concatenate([getattr(c.readings, k) for c in chunks])
            for k in ("meter_ids", "reading_times_unix_s", "consumption_kwh", "demand_kw", "voltage_v",
                      "current_a", "power_factor", "anomaly_type")}
    missing = np.concatenate([c.missing["anomaly_type"] for c in chunks])
    return topo, chunks, cols, missing


def test_chunks_are_bounded_and_time_ordered(fleet):
    _, chunks, _, _ = fleet
    for c in chunks:
        r = c.readings
        assert len(r) <= 1_040 * CFG.intervals_per_day
        assert (np.diff(r.reading_times_unix_s) >= 0).all()
        assert r.meter_ids.dtype == np.int64 and r.reading_times_unix_s.dtype == np.int64
        assert r.consumption_kwh.dtype == np.float64


def test_every_slot_is_a_reading_or_a_listed_absence(fleet):
    _, _, cols, missing = fleet
    assert len(cols["meter_ids"]) + len(missing) == CFG.meters * CFG.days * CFG.intervals_per_day
    pairs = cols["meter_ids"] * 10**10 + cols["reading_times_unix_s"]
    assert len(np.unique(pairs)) == len(pairs)
    t = cols["reading_times_unix_s"]
    assert t.min() == CFG.start_unix_s + CFG.interval_seconds and t.max() == CFG.end_unix_s


def test_power_equals_phases_volts_amps_pf(fleet):
    topo, _, cols, _ = fleet
    phases = topo.meter_parameters["phases"].to_numpy()[cols["meter_ids"] - 1]
    normal = (cols["anomaly_type"] == 0) & (np.abs(cols["demand_kw"]) > 0.5)
    p = np.abs(cols["demand_kw"][normal]) * 1000
    vip = phases[normal] * cols["voltage_v"][normal] * cols["current_a"][normal] * cols["power_factor"][normal]
    rel = np.abs(vip / p - 1)
    assert np.quantile(rel, 0.99) < 0.03
    h = CFG.interval_minutes / 60
    assert np.allclose(cols["consumption_kwh"], cols["demand_kw"] * h, atol=0.002)


def test_stuck_register_breaks_physics_and_voltage_band(fleet):
    topo, _, cols, _ = fleet
    stuck = cols["anomaly_type"] == ANOMALY_CODES["stuck_at_zero"]
    assert stuck.any() and (cols["consumption_kwh"][stuck] == 0).all()
    solar = topo.customers["solar_installed"].to_numpy()[cols["meter_ids"] - 1]
    assert (cols["current_a"][stuck & ~solar] > 0).mean() > 0.95  # current still flows: V*I*pf >> P
    normal = cols["anomaly_type"] == 0
    v = cols["voltage_v"][normal]
    assert ((v >= 216) & (v <= 253)).mean() > 0.995  # AS 61000.3.100 band
    sag = cols["voltage_v"][cols["anomaly_type"] == ANOMALY_CODES["voltage_sag"]]
    assert np.median(sag) < 216


def test_voltage_drops_as_transformer_loading_rises(fleet):
    topo, chunks, _, _ = fleet
    r = chunks[0].readings
    normal = r.anomaly_type == 0
    tx = topo.meters["transformer_id"].to_numpy()[r.meter_ids - 1]
    key = tx[normal] * 10**10 + r.reading_times_unix_s[normal]
    uniq, inv = np.unique(key, return_inverse=True)
    load = np.bincount(inv, weights=r.demand_kw[normal])
    volts = np.bincount(inv, weights=r.voltage_v[normal]) / np.bincount(inv)
    assert np.corrcoef(load, volts)[0, 1] < -0.3


def test_anomaly_rate_near_parameters(fleet):
    _, _, cols, missing = fleet
    total = len(cols["anomaly_type"]) + len(missing)
    for name, rate in CFG.anomaly_rates.items():
        code = ANOMALY_CODES[name]
        seen = ((cols["anomaly_type"] == code).sum() + (missing == code).sum()) / total
        # Episodes make counts lumpy: allow 40 % around the rate.
        assert 0.6 * rate < seen < 1.4 * rate, (name, seen, rate)
    overall = (cols["anomaly_type"] != 0).mean()
    expected = sum(v for k, v in CFG.anomaly_rates.items() if k != "missing_interval")
    assert abs(overall - expected) < 0.3 * expected


def test_solar_homes_read_zero_import_at_midday_and_only_reverse_flow_is_negative(fleet):
    topo, _, cols, _ = fleet
    solar = topo.customers["solar_installed"].to_numpy()[cols["meter_ids"] - 1]
    local_hour = ((cols["reading_times_unix_s"] + 36_000 - 450) % 86_400) / 3600
    midday = (local_hour > 11) & (local_hour < 14)
    normal = cols["anomaly_type"] == 0
    assert (cols["consumption_kwh"][solar & midday & normal] == 0).mean() > 0.5
    assert (cols["consumption_kwh"][~solar & midday & normal] == 0).mean() < 0.05
    reverse = cols["anomaly_type"] == ANOMALY_CODES["reverse_flow"]
    assert (cols["consumption_kwh"][~reverse] >= 0).all()
    assert (cols["consumption_kwh"][reverse] < 0).mean() > 0.9


def test_signed_net_flow_option_shows_exports_as_negative():
    cfg = FleetConfig(meters=1_000, days=1, seed=5, signed_net_flow=True)
    topo = generate_topology(cfg)
    chunk = next(iter_reading_chunks(cfg, topo))
    solar = topo.customers["solar_installed"].to_numpy()[chunk.meter_ids - 1]
    local_hour = ((chunk.reading_times_unix_s + 36_000 - 450) % 86_400) / 3600
    midday = (local_hour > 11) & (local_hour < 14) & (chunk.anomaly_type == 0)
    assert (chunk.consumption_kwh[solar & midday] < 0).mean() > 0.5
    assert (chunk.consumption_kwh[~solar & (chunk.anomaly_type == 0)] >= 0).all()


def test_household_daily_energy_is_sgsc_like(fleet):
    """SGSC NSW households average ~8.8 kWh/day in Jan-Feb (docs/fleet.md); allow for EVs and the mix."""
    topo, _, cols, _ = fleet
    seg = topo.customers["segment"].to_numpy()[cols["meter_ids"] - 1]
    solar = topo.customers["solar_installed"].to_numpy()[cols["meter_ids"] - 1]
    house = ~np.isin(seg, ["early_morning_industrial", "business_hours_commercial"]) & ~solar
    normal = cols["anomaly_type"] == 0
    per_day = cols["consumption_kwh"][house & normal].mean() * CFG.intervals_per_day
    assert 7.0 < per_day < 13.0


def test_thirty_minute_option():
    cfg = FleetConfig(meters=100, days=1, seed=1, interval_minutes=30)
    chunks = list(iter_reading_chunks(cfg))
    assert sum(len(c) for c in chunks) <= 100 * 48
    assert (np.diff(np.unique(chunks[0].reading_times_unix_s)) == 1800).all()
