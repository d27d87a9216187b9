"""Feeders, planted supply outages and their agreement with interval data."""

import numpy as np
import pandas as pd
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


# ---- planted outages -------------------------------------------------------------------------
from meters.fleet.config import OutageRates  # noqa: E402
from meters.fleet.generate import iter_fleet_chunks  # noqa: E402
from meters.fleet.events import plan_transformer_events  # noqa: E402
from meters.fleet.outages import OUTAGE_COLUMNS, meter_ranges, plan_outages  # noqa: E402

YEAR = FleetConfig(meters=10_000, days=365, seed=5)
# A small, short run with many outages, so interval data can be checked against each kind.
SMALL = FleetConfig(meters=1_500, days=4, seed=7, chunk_meters=700, outage_rates=OutageRates(scale=25.0),
                    failure_rate_per_week=0.05)


@pytest.fixture(scope="module")
def year():
    topo = generate_topology(YEAR)
    return topo, plan_outages(YEAR, topo)


def test_outage_columns_and_determinism(year):
    topo, o = year
    assert tuple(o.columns) == OUTAGE_COLUMNS
    assert o.equals(plan_outages(YEAR, topo))
    assert o["outage_id"].dtype == np.int64 and o["outage_id"].is_unique
    assert set(o["level"]) == {"meter", "transformer", "feeder"}
    assert (o.loc[o["level"] == "feeder", "customers_affected"] > 1).all() and (o["customers_affected"] >= 1).all()
    assert (o.loc[o["level"] == "feeder", "transformer_id"] == 0).all()
    assert (o["restored_unix_s"] > o["started_unix_s"]).all()
    assert o["momentary"].equals((o["restored_unix_s"] - o["started_unix_s"]) <= 180)


def test_rates_are_those_of_an_australian_dnsp(year):
    topo, o = year
    n_f, n_tx, n_m = len(topo.feeders), len(topo.transformers), len(topo.meters)
    sustained = o[~o["momentary"] & ~o["planned"]]
    assert 0.3 < (sustained["level"] == "feeder").sum() / n_f < 3.0
    assert 2.0 < o["momentary"].sum() / n_f < 12.0
    assert 0.01 < (sustained["level"] == "meter").sum() / n_m < 0.06
    saifi = sustained["customers_affected"].sum() / n_m
    saidi = (sustained["customers_affected"] * (sustained["restored_unix_s"] - sustained["started_unix_s"])).sum() / 60 / n_m
    assert 0.5 < saifi < 3.0 and 50 < saidi < 600
    planned = o[o["planned"]]
    assert len(planned) > 0 and (planned["cause"] == "planned").all()
    lead = planned["started_unix_s"] - planned["announced_unix_s"]
    assert lead.between(86_400, 7 * 86_400).all() and (o.loc[~o["planned"], "announced_unix_s"] == 0).all()
    dur_h = (planned["restored_unix_s"] - planned["started_unix_s"]) / 3600
    assert dur_h.between(2, 6).all()
    nem_hour = (planned["started_unix_s"] + 10 * 3600) % 86_400 / 3600
    assert nem_hour.between(7.5, 10.5).all()
    assert (pd.to_datetime(planned["started_unix_s"] + 10 * 3600, unit="s").dt.day_of_week < 5).all()
    m = o[o["momentary"]]
    assert (m["restored_unix_s"] - m["started_unix_s"]).between(1, 180).all()


def test_storm_days_stand_out_as_major_event_days(year):
    _, o = year
    u = o[~o["momentary"] & ~o["planned"]]
    day = (u["started_unix_s"] - YEAR.start_unix_s) // 86_400
    cmi = (u["customers_affected"] * (u["restored_unix_s"] - u["started_unix_s"])).groupby(day).sum()
    daily = np.log(cmi.reindex(range(YEAR.days), fill_value=0).to_numpy() / 60 / YEAR.meters + 1e-6)
    # IEEE 1366 2.5 beta on the log of daily SAIDI (days without interruptions left out).
    pos = daily[daily > np.log(1e-6) + 1]
    t_med = np.exp(pos.mean() + 2.5 * pos.std())
    assert 2 <= (np.exp(daily) > t_med).sum() <= 12


def test_outages_never_overlap_on_a_meter(year):
    topo, o = year
    lo, hi = meter_ranges(topo, o["level"].to_numpy(), o["asset_id"].to_numpy())
    assert ((hi - lo) == o["customers_affected"].to_numpy()).all()
    cover = np.zeros(len(topo.meters), np.int64)
    s, e = o["started_unix_s"].to_numpy(), o["restored_unix_s"].to_numpy()
    order = np.argsort(s)
    last_end = np.full(len(topo.meters), -1)
    for i in order:
        assert (last_end[lo[i]:hi[i]] < s[i]).all()
        last_end[lo[i]:hi[i]] = e[i]
        cover[lo[i]:hi[i]] += 1
    assert cover.max() > 1


@pytest.fixture(scope="module")
def small():
    topo = generate_topology(SMALL)
    events = plan_transformer_events(SMALL, topo)
    o = plan_outages(SMALL, topo, events)
    present, absent = [], []
    for fc in iter_fleet_chunks(SMALL, topo, events, o):
        present.append(pd.DataFrame({"meter_id": fc.readings.meter_ids, "t": fc.readings.reading_times_unix_s}))
        absent.append(pd.DataFrame({"meter_id": fc.missing["meter_id"], "t": fc.missing["reading_time_unix_s"],
                                    "code": fc.missing["anomaly_type"]}))
    return topo, events, o, pd.concat(present), pd.concat(absent)


def _overlap(o, i, lo, hi, absent_or_present):
    df = absent_or_present
    return df[(df["meter_id"] > lo[i]) & (df["meter_id"] <= hi[i])]


def test_readings_absent_while_off_supply_and_present_around_momentary(small):
    topo, events, o, present, absent = small
    I = SMALL.interval_seconds
    lo, hi = meter_ranges(topo, o["level"].to_numpy(), o["asset_id"].to_numpy())
    assert o["momentary"].sum() >= 5 and (~o["momentary"]).sum() >= 10
    out = absent[absent["code"].isin([8, 9])]
    assert set(out["code"]) == {8, 9}
    checked = 0
    for i, row in enumerate(o.itertuples()):
        ends = np.arange(SMALL.start_unix_s + I, SMALL.end_unix_s + 1, I)
        off = np.clip(np.minimum(ends, row.restored_unix_s) - np.maximum(ends - I, row.started_unix_s), 0, None)
        p = _overlap(o, i, lo, hi, present)
        a = _overlap(o, i, lo, hi, out)
        if row.momentary:
            assert not a["t"].isin(ends[off > 0]).any()
            checked += p["t"].isin(ends[off > 0]).any()
        else:
            gone = ends[off >= I / 2]
            assert not p["t"].isin(gone).any()
            assert (a.groupby("t").size().reindex(gone, fill_value=0) == hi[i] - lo[i]).all()
    assert checked >= 3
    # Every absent outage row lies in an outage.
    assert len(out) == sum(
        ((np.clip(np.minimum(np.arange(SMALL.start_unix_s + I, SMALL.end_unix_s + 1, I), r.restored_unix_s)
                  - np.maximum(np.arange(SMALL.start_unix_s, SMALL.end_unix_s, I), r.started_unix_s), 0, None) >= I / 2).sum()
         * r.customers_affected) for r in o.itertuples())


def test_transformer_failures_are_outages_too(small):
    _, events, o, _, _ = small
    fails = events[(events["event_type"] == "failure") & (events["event_unix_s"] < SMALL.end_unix_s)]
    assert len(fails) >= 2
    got = o.merge(fails, left_on=["asset_id", "started_unix_s", "restored_unix_s"],
                  right_on=["transformer_id", "event_unix_s", "end_unix_s"])
    assert len(got) == len(fails) and (got["level"] == "transformer").all() and (got["cause_x"] == "equipment").all()
