"""Fleet power frequency: a share of meters report it, one system frequency shared by all at a time,
NEM-like noise, and planted excursions visible at their sampled interval end and listed in truth."""

import json

import numpy as np
import pandas as pd
import pytest

from meters.fleet import FleetConfig, generate_topology, iter_fleet_chunks
from meters.fleet.frequency import NORMAL_BAND_HZ, REPORTING_SHARE, plan_frequency_excursions
from meters.fleet.writer import write_fleet

CFG = FleetConfig(meters=1_500, days=28, seed=11, chunk_meters=800)


@pytest.fixture(scope="module")
def readings():
    chunks = list(iter_fleet_chunks(CFG, generate_topology(CFG)))
    return pd.DataFrame({k: np.concatenate([getattr(c.readings, k) for c in chunks])
                         for k in ("meter_ids", "reading_times_unix_s", "frequency_hz")})


def test_a_share_of_meters_reports_it_always_and_the_rest_never(readings):
    reports = readings.groupby("meter_ids")["frequency_hz"].agg(lambda f: f.notna().mean())
    assert set(np.unique(reports)) <= {0.0, 1.0}
    assert abs(reports.mean() - REPORTING_SHARE) < 0.05


def test_one_system_frequency_with_nem_like_noise(readings):
    by_time = readings.dropna().groupby("reading_times_unix_s")["frequency_hz"]
    spread = (by_time.max() - by_time.min())
    assert spread.max() <= 0.035  # every meter sees the same frequency, +- measurement and rounding
    plan = plan_frequency_excursions(CFG)
    system = by_time.median().drop(plan["sampled_at_unix_s"], errors="ignore")
    assert abs(system.mean() - 50.0) < 0.005 and 0.018 < system.std() < 0.032
    assert (system.sub(50.0).abs() <= NORMAL_BAND_HZ).all()  # normal variation never leaves the band


def test_planted_excursions_are_seen_where_truth_says(readings):
    plan = plan_frequency_excursions(CFG)
    assert len(plan) >= 1 and len(plan_frequency_excursions(FleetConfig(days=365))) > 10
    median = readings.dropna().groupby("reading_times_unix_s")["frequency_hz"].median()
    seen = median.loc[plan["sampled_at_unix_s"]].to_numpy()
    assert (np.abs(seen - 50.0) > NORMAL_BAND_HZ).all()
    np.testing.assert_allclose(seen, plan["sampled_hz"], atol=0.06)  # + the system's normal noise
    low = plan["direction"] == "low"
    assert (plan.loc[low, "nadir_hz"] <= plan.loc[low, "sampled_hz"]).all()
    assert (plan["back_in_band_unix_s"] - plan["start_unix_s"] <= 300).all()  # FOS: back in 5 minutes


def test_written_with_readings_and_truth(tmp_path):
    cfg = FleetConfig(meters=200, days=14, seed=3, chunk_meters=200)
    manifest = write_fleet(cfg, tmp_path)
    truth = pd.read_parquet(tmp_path / "truth" / "frequency_excursions.parquet")
    assert len(truth) == manifest["counts"]["frequency_excursions"] == len(plan_frequency_excursions(cfg))
    day = pd.read_parquet(tmp_path / "readings" / "day-0000-chunk-0000.parquet")
    assert "frequency_hz" in day and 0 < day["frequency_hz"].notna().mean() < 1
    assert json.loads((tmp_path / "manifest.json").read_text())["counts"]["frequency_excursions"] == len(truth)
