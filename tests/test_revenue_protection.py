"""Revenue protection: the loss model, the matched-filter suspects and the fleet evaluation."""

import numpy as np
import pandas as pd

from scoring_svc.revenue_protection import SuspectInputs, fit_loss_model, hourly_residual, rank_suspects
from scoring_svc.revenue_protection.evaluation import evaluate_theft_detection

DAYS, H = 90, 90 * 24


def _loads(rng, n_meters: int) -> np.ndarray:
    """Household-like hourly kWh: a shared evening shape and weather, each home's own noise."""
    hour = np.arange(H) % 24
    shape = 0.3 + 0.5 * np.exp(-((hour - 19) ** 2) / 8.0) + 0.2 * np.exp(-((hour - 8) ** 2) / 4.0)
    weather = np.repeat(1.0 + 0.3 * np.sin(np.arange(DAYS) / 9.0), 24)
    scale = rng.uniform(0.5, 2.0, (n_meters, 1))
    return scale * shape * weather * rng.lognormal(0.0, 0.6, (n_meters, H))


def _inputs(rng, loads: np.ndarray, transformer_of: np.ndarray, thefts: dict[int, tuple[int, float]],
            tamper: dict[int, np.ndarray] | None = None) -> SuspectInputs:
    """Residual = the unmetered part of each thief's load from its start day, plus loss noise."""
    metered = loads.copy()
    n_t = transformer_of.max() + 1
    residual = rng.normal(0.0, 0.1, (n_t, H))
    for row, (day, share) in thefts.items():
        metered[row, day * 24:] *= 1.0 - share
        residual[transformer_of[row], day * 24:] += share * loads[row, day * 24:]
    return SuspectInputs(np.arange(1, len(loads) + 1), transformer_of, metered.astype(np.float32), residual,
                         np.full(n_t, 0.1), None, tamper)


def test_the_thief_not_its_neighbours_is_the_first_suspect():
    rng = np.random.default_rng(1)
    transformer_of = np.repeat([0, 1], 8)
    loads = _loads(rng, 16)
    loads[5] = 0.8 * loads[3] * rng.lognormal(0.0, 0.2, H)  # a granny flat: the thief's habits, metered apart
    ranked = rank_suspects(_inputs(rng, loads, transformer_of, {3: (40, 0.3)}))
    top = ranked.iloc[0]
    assert top["meter_id"] == 4
    assert abs(top["start_day"] - 40) <= 4
    assert 0.05 < top["unmetered_share"] < 0.5
    # The flat's load shape matches the residual almost as well (z 32 against 42 before the thief
    # is credited); once the thief's step is taken out it is noise.
    others = ranked[ranked["meter_id"] != 4]
    assert others["score"].max() < 0.2 * top["score"]


def test_two_thieves_on_one_transformer_are_both_found():
    rng = np.random.default_rng(2)
    transformer_of = np.repeat([0, 1, 2], 10)
    ranked = rank_suspects(_inputs(rng, _loads(rng, 30), transformer_of, {2: (30, 0.4), 7: (55, 0.4)}))
    assert set(ranked.head(2)["meter_id"]) == {3, 8}


def test_a_tamper_event_at_the_step_lifts_a_faint_theft_above_a_plainer_one():
    rng = np.random.default_rng(3)
    loads = _loads(rng, 20)
    transformer_of = np.repeat([0, 1], 10)
    thefts = {4: (45, 0.08), 14: (45, 0.03)}
    plain = rank_suspects(_inputs(np.random.default_rng(4), loads, transformer_of, thefts))
    tampered = rank_suspects(_inputs(np.random.default_rng(4), loads, transformer_of, thefts, {14: np.array([45])}))
    assert plain.iloc[0]["meter_id"] == 5
    assert tampered.iloc[0]["meter_id"] == 15 and tampered.iloc[0]["tamper_evidence"]
    # A cover opened by field work far from any step is no evidence.
    elsewhere = rank_suspects(_inputs(np.random.default_rng(4), loads, transformer_of, thefts, {14: np.array([10])}))
    assert elsewhere.iloc[0]["meter_id"] == 5


def test_loss_model_recovers_known_losses():
    rng = np.random.default_rng(5)
    hours = []
    for tx, (nl, a, b) in enumerate([(0.4, 0.01, 0.002), (0.8, 0.02, 0.001)], start=1):
        m = rng.uniform(2.0, 40.0, H)
        e = m + nl + a * m + b * m**2 + rng.normal(0.0, 0.02, H)
        hours.append(pd.DataFrame({"transformer_id": tx, "hour_end_unix_s": 3600 * (np.arange(H) + 1),
                                   "energy_kwh": e, "metered_kwh": m}))
    frame = pd.concat(hours, ignore_index=True)
    model = fit_loss_model(frame, fit_until_unix_s=3600 * H)
    np.testing.assert_allclose(model["no_load_kwh"], [0.4, 0.8], atol=0.05)
    np.testing.assert_allclose(model["loss_sq"], [0.002, 0.001], atol=2e-4)
    _, residual, sigma = hourly_residual(frame, model)
    assert residual.shape == (2, H) and np.all(sigma < 0.05)


def test_fleet_evaluation_beats_the_consumption_drop_rule(tmp_path):
    f = evaluate_theft_detection(meters=2_000, days=120, seed=7, reports_dir=tmp_path)
    assert f["theft_planted"] > 5
    assert f["theft_top1pct_recall_bypass_15pct"] >= 0.7
    assert f["theft_top1pct_recall_bypass_15pct"] > f["theft_baseline_top1pct_recall_bypass_15pct"]
    assert f["theft_start_within_7_days_share"] >= 0.7
    assert (tmp_path / "theft_detection.png").stat().st_size > 10_000


def test_a_register_pinned_after_a_tamper_event_is_flagged_and_ranked_first():
    rng = np.random.default_rng(6)
    loads = _loads(rng, 12)
    transformer_of = np.repeat([0, 1], 6)
    inp = _inputs(rng, loads, transformer_of, {2: (50, 0.3)}, {8: np.array([40]), 2: np.array([50])})
    std = rng.uniform(0.05, 0.2, (12, DAYS))
    std[8, 41:] = 0.0005  # meter 9's register pinned after its tamper event on day 40
    std[2, 20:] = 0.0005  # meter 3 is flat too, but from long before its tamper event
    ranked = rank_suspects(SuspectInputs(inp.meter_ids, inp.transformer_row, inp.metered_hourly,
                                         inp.residual_hourly, inp.residual_sigma, std, inp.tamper_days))
    flagged = ranked.set_index("meter_id")["flat_after_tamper"]
    assert flagged[9] and not flagged[3] and flagged.sum() == 1
    assert ranked.iloc[0]["meter_id"] == 9


def test_reverse_flow_counts_only_on_meters_without_solar():
    rng = np.random.default_rng(7)
    loads = _loads(rng, 12)
    transformer_of = np.repeat([0, 1], 6)
    inp = _inputs(rng, loads, transformer_of, {})
    metered = inp.metered_hourly.copy()
    metered[[1, 7], 1000:1010] = -0.5
    solar = np.zeros(12, bool)
    solar[7] = True
    ranked = rank_suspects(SuspectInputs(inp.meter_ids, inp.transformer_row, metered, inp.residual_hourly,
                                         inp.residual_sigma, solar_registered=solar)).set_index("meter_id")
    assert ranked.loc[2, "reverse_flow_kwh"] == 5.0 and ranked.loc[8, "reverse_flow_kwh"] == 0.0


def test_a_flat_lined_premises_load_is_not_credited_to_its_neighbours():
    rng = np.random.default_rng(8)
    loads = _loads(rng, 12)
    transformer_of = np.repeat([0, 1], 6)
    inp = _inputs(rng, loads, transformer_of, {2: (50, 0.95)}, {2: np.array([50])})
    metered = inp.metered_hourly.copy()
    metered[2, 50 * 24:] = 0.05 * loads[2].mean()  # meter 3 pinned from its tamper event: its load goes unmetered
    std = rng.uniform(0.05, 0.2, (12, DAYS))
    std[2, 50:] = 0.0005
    ranked = rank_suspects(SuspectInputs(inp.meter_ids, inp.transformer_row, metered, inp.residual_hourly,
                                         inp.residual_sigma, std, inp.tamper_days))
    assert ranked.iloc[0]["meter_id"] == 3 and ranked.iloc[0]["flat_after_tamper"]
    # Its evening shape is every home's: without leaving its transformer's hours out from the
    # event, its neighbours took its load as theft (z 10-20 on the 10,000-meter fleet).
    neighbours = ranked[ranked["meter_id"].isin([1, 2, 4, 5, 6])]
    assert neighbours["score"].max() < 3.0


def test_reverse_flow_adds_evidence_only_day_after_day():
    rng = np.random.default_rng(9)
    loads = _loads(rng, 12)
    transformer_of = np.repeat([0, 1], 6)
    inp = _inputs(rng, loads, transformer_of, {3: (40, 0.3)})
    solar = np.zeros(12, bool)

    def thief(reverse_days: int) -> pd.Series:
        metered = inp.metered_hourly.copy()
        for day in range(60, 60 + reverse_days):
            metered[3, day * 24 + 2:day * 24 + 5] = -0.5  # 3 h of reverse flow that day
        ranked = rank_suspects(SuspectInputs(inp.meter_ids, inp.transformer_row, metered, inp.residual_hourly,
                                             inp.residual_sigma, solar_registered=solar))
        return ranked.set_index("meter_id").loc[4]

    brief, sustained = thief(3), thief(20)  # a register fault now and then; a reversed meter
    assert brief["reverse_flow_kwh"] > 1.0 and brief["z"] >= 3.0
    assert brief["score"] == brief["z"]
    assert sustained["score"] >= sustained["z"] + 10.0
