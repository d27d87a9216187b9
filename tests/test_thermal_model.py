"""The IEC 60076-7 top-oil model, the standard ETTh1 benchmark's split and normalisation, and the
learnt thermal forecast beating the naive peers on the quick run (scoring_svc/thermal)."""

import numpy as np
import pytest

from scoring_svc.thermal.benchmark import HORIZONS, LOOKBACK, Benchmark, naive_yesterday
from scoring_svc.thermal.data import BORDERS, COLUMNS, Etth1, Scaler, window_origins, windows
from scoring_svc.thermal.fit import fit
from scoring_svc.thermal.iec import ThermalParams, steady_state_rise, top_oil_rise, top_oil_rise_loop
from scoring_svc.thermal.overload import HOT_SPOT_GRADIENT_K, ageing_rate, outlook
from scoring_svc.thermal.projection import PhysicsProjection

PARAMS = ThermalParams(rated_rise=55.0, loss_ratio=5.0, oil_exponent=0.8, tau_minutes=600.0, k11=1.0)


@pytest.fixture(scope="module")
def data():
    return Etth1.load()


@pytest.fixture(scope="module")
def fitted(data):
    return fit(data)


@pytest.mark.parametrize("k", [0.0, 0.5, 1.0, 1.3])
def test_constant_load_settles_at_the_closed_form_rise(k):
    closed = PARAMS.rated_rise * ((1 + PARAMS.loss_ratio * k * k) / (1 + PARAMS.loss_ratio)) ** PARAMS.oil_exponent
    rise = top_oil_rise(np.full(24 * 10, k), PARAMS, initial_rise=0.0)
    assert rise[-1] == pytest.approx(closed, rel=1e-6)
    assert float(steady_state_rise(k, PARAMS)) == pytest.approx(closed)
    if k == 1.0:
        assert closed == pytest.approx(PARAMS.rated_rise)  # rated load gives the rated rise


def test_a_load_step_approaches_steady_state_with_time_constant_tau():
    k = np.r_[np.full(48, 0.5), np.full(200, 1.2)]
    before, after = float(steady_state_rise(0.5, PARAMS)), float(steady_state_rise(1.2, PARAMS))
    rise = top_oil_rise(k, PARAMS, substeps=12)
    share = (rise[47:] - before) / (after - before)  # share[n]: n hours after the step
    tau_h = PARAMS.k11 * PARAMS.tau_minutes / 60
    for multiple, expected in ((1, 1 - np.exp(-1)), (2, 1 - np.exp(-2)), (3, 1 - np.exp(-3))):
        assert share[int(multiple * tau_h)] == pytest.approx(expected, abs=0.01)
    assert share[0] == pytest.approx(0.0)
    # a slower oil reaches less of the step in the same time
    slow = top_oil_rise(k, ThermalParams(55.0, 5.0, 0.8, 1200.0), substeps=12)
    assert slow[47 + int(tau_h)] < rise[47 + int(tau_h)]


def test_the_filter_is_the_standards_recursion_step_by_step():
    k = np.random.default_rng(3).uniform(0, 1.4, 100)
    np.testing.assert_allclose(top_oil_rise(k, PARAMS, substeps=6, initial_rise=10.0),
                               top_oil_rise_loop(k, PARAMS, 60.0, 6, 10.0), rtol=1e-10)


def test_a_sub_step_too_long_for_the_oil_time_constant_is_refused():
    with pytest.raises(ValueError, match="too long"):
        top_oil_rise(np.ones(5), ThermalParams(55.0, 5.0, 0.8, 30.0), substeps=1)


def test_split_sizes_are_the_literatures(data):
    assert len(data.frame) == 17_420
    assert {s: len(data.split(s)) for s in BORDERS} == {"train": 8640, "val": 2880, "test": 2880}
    assert str(data.split("test")["date"].iloc[0]) == "2017-10-24 00:00:00"
    for h in HORIZONS:  # every test window: targets inside the test months, look-back before them allowed
        o = window_origins("test", LOOKBACK, h)
        assert len(o) == 2880 - h + 1
        assert o[0] == BORDERS["test"][0] and o[-1] + h == BORDERS["test"][1]


def test_normalisation_uses_training_statistics_only(data):
    values = data.values(COLUMNS)
    scaler = Scaler.fit_train(values)
    changed = values.copy()
    changed[BORDERS["train"][1]:] += 1000.0  # anything after the training months must not matter
    other = Scaler.fit_train(changed)
    np.testing.assert_allclose(scaler.mean, other.mean, rtol=1e-12)
    np.testing.assert_allclose(scaler.std, other.std, rtol=1e-12)
    z = scaler.transform(values)[slice(*BORDERS["train"])]
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-9)
    assert abs(scaler.transform(values)[slice(*BORDERS["test"]), -1].mean()) > 0.5  # the test months' OT shift stays


def test_the_same_hour_yesterday_peer_repeats_the_last_day():
    past = np.arange(48.0)[None, :]
    np.testing.assert_array_equal(naive_yesterday(past, 30)[0], np.r_[np.arange(24.0, 48), np.arange(24.0, 30)])


def test_the_physics_projection_reads_nothing_at_or_after_its_origin(data, fitted):
    origin = BORDERS["test"][0] + 500
    scrambled = data.frame.copy()
    scrambled.loc[origin:, "OT"] = np.random.default_rng(0).normal(50, 20, len(scrambled) - origin)
    at = np.array([origin])
    np.testing.assert_array_equal(PhysicsProjection(fitted, data.frame).forecast(at, 96),
                                  PhysicsProjection(fitted, scrambled).forecast(at, 96))


def test_the_physics_fit_is_physical_and_beats_a_flat_line_on_training_months(data, fitted):
    p = fitted.params
    assert p.rated_rise > 0 and p.loss_ratio > 0 and p.tau_minutes > 60
    train_ot = data.split("train")["OT"].to_numpy()
    assert fitted.train_rmse < 0.5 * train_ot.std()


@pytest.mark.parametrize("setting", ["S", "MS-physics"])
@pytest.mark.parametrize("horizon", HORIZONS)
def test_the_learnt_forecast_beats_both_naive_peers_on_the_quick_run(data, fitted, setting, horizon):
    run = Benchmark(data, fitted, quick=True).run(setting, horizon)
    assert run["windows"] == len(window_origins("test", LOOKBACK, horizon)[::24])
    for peer in ("naive_last", "naive_yesterday"):
        assert run["ours"].mse < 0.9 * run[peer].mse, peer
        assert run["ours"].mae < run[peer].mae, peer
    past, future = windows(data.frame["OT"].to_numpy(), run["origins"], LOOKBACK, horizon)
    assert future.shape == run["truth"].shape


def test_the_overload_outlook_follows_the_standards_hot_spot_and_ageing_law():
    assert float(ageing_rate(np.array(98.0))) == pytest.approx(1.0)
    assert float(ageing_rate(np.array(104.0))) == pytest.approx(2.0)  # doubles every 6 K
    top_oil = np.array([[90.0, 100.0, 106.0]])
    o = outlook(top_oil, np.array([[1.0, 1.0, 0.0]]))
    np.testing.assert_allclose(o.hot_spot_c, [[90.0 + HOT_SPOT_GRADIENT_K, 100.0 + HOT_SPOT_GRADIENT_K, 106.0]])
    assert o.hours_over_hot_spot_limit[0] == 1 and o.hours_over_top_oil_limit[0] == 1
    assert o.loss_of_life_hours[0] == pytest.approx(float(ageing_rate(o.hot_spot_c).sum()))
