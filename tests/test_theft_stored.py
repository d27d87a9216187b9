"""Theft suspects from stored columns (scoring_svc/revenue_protection/stored.py's build): the same
inputs and ranking as the offline evaluation when the columns hold the fleet's own aggregates; a
transformer without energy is left out and counted; no customer register means no solar known; an export
counts once and never over a stored reading; telemetry hours missing (NaN energy) do not poison the
loss model."""

import numpy as np
import pandas as pd
import pytest

from meters.fleet import FleetConfig, generate_topology, plan_thefts
from scoring_svc.revenue_protection import fit_loss_model, rank_suspects
from scoring_svc.revenue_protection.evaluation import suspect_inputs, tamper_days
from scoring_svc.revenue_protection.fleet_data import aggregate_fleet
from scoring_svc.revenue_protection.stored import StoredWindow, Window, _one_value_per_interval, build


@pytest.fixture(scope="module")
def fleet():
    cfg = FleetConfig(meters=120, days=30, seed=4, interval_minutes=30, signed_net_flow=True)
    topology = generate_topology(cfg)
    thefts = plan_thefts(cfg, topology)
    agg = aggregate_fleet(cfg, topology, thefts=thefts)
    tamper = tamper_days(cfg, topology, thefts)
    solar = topology.meter_parameters["solar_kw"].to_numpy() > 0
    return cfg, agg, tamper, solar


def columns(cfg, agg, tamper, solar, drop_tx=None, with_solar=True) -> StoredWindow:
    """The fleet's aggregates as the SQL would return them."""
    th = agg.transformer_hours.dropna(subset=["energy_kwh"])
    th = th[th["transformer_id"] != drop_tx]
    hour_e = ((th["hour_end_unix_s"] - 1 - cfg.start_unix_s) // 3600).to_numpy(np.int32)
    m, h = agg.hourly_kwh.shape
    kwh = agg.hourly_kwh.astype(np.float64).ravel()  # one "interval" per hour: its sum, at the hour's end
    ends = np.tile(cfg.start_unix_s + 3600 * (np.arange(h) + 1), m)
    imported, exported = kwh >= 0, kwh < 0
    ids = np.repeat(agg.meter_ids, h)
    readings = (ids[imported], ends[imported], kwh[imported])
    exports = (ids[exported], ends[exported], kwh[exported])
    rows = np.concatenate([np.full(len(d), r) for r, d in tamper.items()])
    days = np.concatenate([np.asarray(d) for d in tamper.values()]).astype(np.int32)
    return StoredWindow(Window(cfg.start_unix_s, cfg.days), agg.meter_ids, agg.transformer_ids,
                        (th["transformer_id"].to_numpy(), hour_e, th["energy_kwh"].to_numpy()), readings, exports,
                        (agg.meter_ids[rows], days),
                        (agg.meter_ids, solar.astype(np.int16)) if with_solar else None)


def test_stored_columns_give_the_evaluations_inputs_and_ranking(fleet):
    cfg, agg, tamper, solar = fleet
    built = build(columns(cfg, agg, tamper, solar))
    want = suspect_inputs(cfg, agg, tamper, solar)
    got = built.inputs
    np.testing.assert_array_equal(got.meter_ids, want.meter_ids)
    np.testing.assert_array_equal(got.transformer_row, want.transformer_row)
    np.testing.assert_allclose(got.metered_hourly, want.metered_hourly)
    np.testing.assert_allclose(got.residual_hourly, want.residual_hourly, atol=1e-4)  # float32 meter hours summed
    np.testing.assert_allclose(got.residual_sigma, want.residual_sigma, rtol=1e-4)
    assert got.tamper_days.keys() == want.tamper_days.keys()
    np.testing.assert_array_equal(got.solar_registered, want.solar_registered)
    assert (built.without_energy, built.solar_known) == (0, True)
    a, b = rank_suspects(got), rank_suspects(want)
    np.testing.assert_array_equal(a["meter_id"].head(10), b["meter_id"].head(10))


def test_transformer_without_energy_is_left_out_and_no_register_means_no_solar(fleet):
    cfg, agg, tamper, solar = fleet
    gone = agg.transformer_ids[0]
    built = build(columns(cfg, agg, tamper, solar, drop_tx=gone, with_solar=False))
    assert built.without_energy == 1 and gone not in built.transformer_ids
    assert len(built.inputs.meter_ids) == int((agg.transformer_ids != gone).sum())
    assert built.inputs.solar_registered is None and not built.solar_known


def test_loss_model_ignores_hours_without_energy():
    hours = pd.DataFrame({"transformer_id": 1, "hour_end_unix_s": np.arange(1, 101) * 3600,
                          "metered_kwh": np.linspace(10, 30, 100)})
    hours["energy_kwh"] = hours["metered_kwh"] * 1.05 + 0.5
    hours.loc[::7, "energy_kwh"] = np.nan
    model = fit_loss_model(hours, 101 * 3600)
    assert model[["no_load_kwh", "loss_abs"]].to_numpy().ravel() == pytest.approx([0.5, 0.05], abs=1e-6)


def test_an_export_counts_once_and_never_over_a_stored_reading():
    w = Window(1_000_000 // 3600 * 3600, 28)
    t0 = w.start_unix_s
    data = StoredWindow(w, np.array([1]), np.array([5]), (np.array([5]), np.array([0]), np.array([1.0])),
                        (np.array([1, 1]), np.array([t0 + 1800, t0 + 3600]), np.array([0.4, 0.3])),
                        (np.array([1, 1, 1]), np.array([t0 + 3600, t0 + 5400, t0 + 5400]), np.array([-0.2, -0.1, -0.1])),
                        (np.array([], dtype=np.int64), np.array([], dtype=np.int32)), None)
    m, t, kwh = _one_value_per_interval(data, w)
    assert sorted(zip(t - t0, kwh)) == [(1800, 0.4), (3600, 0.3), (5400, -0.1)]
