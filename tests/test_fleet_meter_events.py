"""Meter events agree with the planted outages and thefts; losses and noise at their rates."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from meters.fleet import FleetConfig, generate_topology
from meters.fleet.config import OutageRates
from meters.fleet.meter_events import (
    COVER_OPEN, EVENT_COLUMNS, POWER_OFF, POWER_ON, TAMPER, TRUTH_COLUMNS, iter_meter_events, meter_events,
)
from meters.fleet.outages import meter_ranges, plan_outages
from meters.fleet.theft import plan_thefts
from meters.fleet.writer import write_fleet

CFG = FleetConfig(meters=5_000, days=60, seed=17, outage_rates=OutageRates(scale=4.0))


@pytest.fixture(scope="module")
def run():
    topo = generate_topology(CFG)
    outages = plan_outages(CFG, topo)
    thefts = plan_thefts(CFG, topo)
    return topo, outages, thefts, meter_events(CFG, topo, outages=outages, thefts=thefts)


def test_columns_unique_ids_and_determinism(run):
    topo, outages, thefts, ev = run
    assert tuple(ev.columns) == TRUTH_COLUMNS and ev["event_id"].is_unique
    again = meter_events(CFG, topo, outages=outages, thefts=thefts)
    pd.testing.assert_frame_equal(ev, again)
    days = list(iter_meter_events(CFG, topo, outages=outages, thefts=thefts))
    assert len(days) == CFG.days and all(tuple(d.columns) == EVENT_COLUMNS for d in days)
    streamed = pd.concat(days, ignore_index=True)
    assert (np.diff(streamed["event_time_unix_ms"].to_numpy()) >= 0).all()
    assert streamed["event_id"].tolist() == ev.loc[ev["delivered"], "event_id"].tolist()


def test_every_outage_meter_has_its_last_gasp_and_restore(run):
    topo, outages, _, ev = run
    lo, hi = meter_ranges(topo, outages["level"].to_numpy(), outages["asset_id"].to_numpy())
    o = outages.assign(lo=lo, hi=hi)
    of = ev[ev["outage_id"] > 0].merge(o, on="outage_id")
    assert ((of["meter_id"] > of["lo"]) & (of["meter_id"] <= of["hi"])).all()
    off = of[of["type"] == POWER_OFF]
    assert len(off) == o["customers_affected"].sum()
    t = off["event_time_unix_ms"] / 1000
    assert (t >= off["started_unix_s"]).all() and (t <= off["started_unix_s"] + 20).all()
    on = of[of["type"] == POWER_ON]
    inside = o[o["restored_unix_s"] < CFG.end_unix_s]
    assert len(on) == inside["customers_affected"].sum()
    t = on["event_time_unix_ms"] / 1000
    assert (t >= on["restored_unix_s"]).all() and (t <= np.maximum(on["restored_unix_s"] + 60, on["started_unix_s"] + 21)).all()
    # Lost shares: ~20 % of last gasps when the network around the meter died too, ~5 % alone, ~5 % of restores.
    for levels, share in ((["transformer", "feeder"], 0.20), (["meter"], 0.05)):
        lost = 1 - off.loc[off["level"].isin(levels), "delivered"].mean()
        assert abs(lost - share) < 0.04, levels
    assert abs((1 - on["delivered"].mean()) - 0.05) < 0.02
    assert o["momentary"].sum() > 0 and off["momentary"].any()


def test_noise_and_theft_events(run):
    _, _, thefts, ev = run
    spurious = ev[(ev["outage_id"] == 0) & (ev["type"] == POWER_OFF)]
    assert len(spurious) > 0.5 * 0.2 * CFG.meters * CFG.days / 365.25
    tamper = ev[ev["type"].isin([TAMPER, COVER_OPEN])]
    with_event = thefts[thefts["tamper_event"]]
    got = tamper.merge(with_event, on="meter_id")
    lead = got["started_unix_s"] - got["event_time_unix_ms"] / 1000
    assert set(with_event["meter_id"]) <= set(got["meter_id"]) and lead.between(0, 3 * 3600).all()


def test_written_with_readings(tmp_path):
    cfg = FleetConfig(meters=400, days=3, seed=4, chunk_meters=200, outage_rates=OutageRates(scale=30.0))
    m = write_fleet(cfg, tmp_path)
    files = [f for f in m["files"] if f.startswith("meter_events/")]
    assert len(files) == cfg.days * len([f for f in m["files"] if f.startswith("readings/day-0000")])
    sent = pd.concat([pq.read_table(tmp_path / f).to_pandas() for f in files])
    truth = pq.read_table(tmp_path / "truth" / "meter_events.parquet").to_pandas()
    assert len(sent) == truth["delivered"].sum() == m["counts"]["meter_events"] > 0
    assert set(sent["event_id"]) == set(truth.loc[truth["delivered"], "event_id"])
    assert len(pq.read_table(tmp_path / "truth" / "outages.parquet")) > 0
