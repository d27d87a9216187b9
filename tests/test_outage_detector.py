"""OutageDetector on hand-made networks: which outage at which level, restore, momentary, planned, noise."""

import numpy as np
import pandas as pd
from scoring_svc.outages import OutageClosed, OutageDetector, OutageOpened

T0 = 1_767_600_000  # a multiple of 900 s: interval boundaries are T0 + k * 900
IV = 900
# Feeder 1: transformers 1-4 (meters 1-40, ten each); feeder 2: transformers 5-6 (meters 41-60).
TABLES = {
    "meters": pd.DataFrame({"meter_id": np.arange(1, 61), "transformer_id": np.repeat(np.arange(1, 7), 10)}),
    "transformers": pd.DataFrame({"transformer_id": np.arange(1, 7), "feeder_id": [1, 1, 1, 1, 2, 2],
                                  "substation_id": 1}),
    "substations": pd.DataFrame({"substation_id": [1], "region": ["NSW"]}),
}
ALL = np.arange(1, 61)


def events(rows) -> pd.DataFrame:
    """rows of (meter_id, type, unix s) -> the head-end's event frame, in time order."""
    df = pd.DataFrame(rows, columns=["meter_id", "type", "t"]).sort_values("t", kind="stable")
    return pd.DataFrame({"event_id": [f"e{i}" for i in range(len(df))], "meter_id": df["meter_id"].to_numpy(),
                         "type": df["type"].to_numpy(), "event_time_unix_ms": (df["t"] * 1000).astype(np.int64),
                         "detail": ""})


def gasps(meters, t, spread=20):
    return [(int(m), 1, t + (i * 7) % spread) for i, m in enumerate(meters)]


def restores(meters, t, spread=60):
    return [(int(m), 2, t + (i * 13) % spread) for i, m in enumerate(meters)]


def detector(**kw):
    return OutageDetector(TABLES, start_unix_s=T0, **kw)


def kinds(records, cls):
    return [r for r in records if isinstance(r, cls)]


def test_transformer_outage_with_a_fifth_of_gasps_lost_is_one_outage_with_all_customers():
    d = detector()
    out = d.feed_events(events(gasps([1, 2, 3, 5, 6, 7, 9, 10], T0 + 100)))  # meters 4 and 8 lost theirs
    assert out == []  # still inside the correlation window
    opened = kinds(d.advance(T0 + 160), OutageOpened)
    assert [(o.level, o.asset_id, o.customers_affected) for o in opened] == [("transformer", 1, 10)]
    assert opened[0].started_unix_s == T0 + 100 and opened[0].opened_unix_s - opened[0].last_gasp_unix_s <= 60
    closed = kinds(d.feed_events(events(restores(range(1, 11), T0 + 3600))) + d.advance(T0 + 3800), OutageClosed)
    assert len(closed) == 1 and abs(closed[0].restored_unix_s - (T0 + 3600)) <= 60 and not closed[0].momentary
    row = d.outages().iloc[0]
    assert row["customers_affected"] == 10 and row["transformer_id"] == 1 and row["feeder_id"] == 1
    assert row["region"] == "NSW" and row["detected_from"] == "last_gasp"


def test_most_transformers_of_a_feeder_out_at_once_is_a_feeder_outage():
    d = detector()
    lost = {3, 14, 15, 22, 31, 38}
    d.feed_events(events(gasps([m for m in range(1, 41) if m not in lost], T0 + 50)))
    opened = kinds(d.advance(T0 + 200), OutageOpened)
    assert [(o.level, o.asset_id, o.customers_affected) for o in opened] == [("feeder", 1, 40)]
    row = d.outages().iloc[0]
    assert row["transformer_id"] == 0 and row["feeder_id"] == 1


def test_a_lone_glitch_gasp_is_nothing():
    d = detector()
    out = d.feed_events(events([(45, 1, T0 + 10), (45, 2, T0 + 40)]))
    out += d.advance(T0 + 3 * 3600)
    assert out == [] and d.outages().empty


def test_a_lone_gasp_of_a_meter_that_keeps_metering_is_nothing():
    d = detector()
    out = d.feed_events(events([(45, 1, T0 + 10)]))  # no POWER_ON: only readings tell
    for k in range(1, 5):
        out += d.feed_readings_seen(ALL, T0 + k * IV) + d.advance(T0 + k * IV + 300)
    assert out == [] and d.outages().empty


def test_single_premise_confirmed_by_absent_readings_and_restored_by_power_on():
    d = detector()
    out = d.feed_events(events([(45, 1, T0 + 10)]))
    for k in range(1, 4):
        out += d.feed_readings_seen(ALL[ALL != 45], T0 + k * IV) + d.advance(T0 + k * IV + 300)
    opened = kinds(out, OutageOpened)
    assert [(o.level, o.asset_id, o.customers_affected, o.detected_from) for o in opened] == [
        ("meter", 45, 1, "last_gasp+readings_absent")]
    out = d.feed_events(events([(45, 2, T0 + 4 * IV + 40)])) + d.advance(T0 + 4 * IV + 200)
    closed = kinds(out, OutageClosed)
    assert len(closed) == 1 and abs(closed[0].restored_unix_s - (T0 + 4 * IV + 10)) <= 30


def test_single_premise_without_readings_is_confirmed_by_no_restore():
    d = detector()
    d.feed_events(events([(45, 1, T0 + 10)]))
    assert d.advance(T0 + 200) == []
    opened = kinds(d.advance(T0 + 400), OutageOpened)
    assert [(o.level, o.detected_from) for o in opened] == [("meter", "last_gasp+no_restore")]


def test_momentary_feeder_interruption_restored_before_the_decision():
    d = detector()
    d.feed_events(events(gasps(range(41, 61), T0 + 10, spread=5) + restores(range(41, 61), T0 + 16, spread=10)))
    out = d.advance(T0 + 300)
    (opened,), (closed,) = kinds(out, OutageOpened), kinds(out, OutageClosed)
    assert (opened.level, opened.asset_id, opened.customers_affected) == ("feeder", 2, 20)
    assert closed.momentary and closed.restored_unix_s - opened.started_unix_s <= 180


def test_planned_work_registered_in_advance_marks_the_outage_planned():
    work = pd.DataFrame({"level": ["transformer", "transformer"], "asset_id": [2, 3],
                         "start_unix_s": [T0 + 3600, T0 + 3600], "end_unix_s": [T0 + 4 * 3600] * 2,
                         "announced_unix_s": [T0 - 86_400, T0 + 7200]})  # tx 3's registered only after the start
    d = detector(planned_work=work)
    d.feed_events(events(gasps(range(11, 21), T0 + 3700) + gasps(range(21, 31), T0 + 3900)))
    d.advance(T0 + 4000)
    t = d.outages().set_index("asset_id")
    assert t.loc[2, "planned"] and t.loc[2, "announced_unix_s"] == T0 - 86_400 and t.loc[2, "cause"] == "planned"
    assert not t.loc[3, "planned"] and t.loc[3, "announced_unix_s"] == 0


def test_restore_with_most_power_on_events_lost_closes_on_readings():
    d = detector()
    d.feed_events(events(gasps(range(51, 61), T0 + 100)))
    d.advance(T0 + 200)
    restored = T0 + 2 * 3600
    out = d.feed_events(events(restores([51, 52, 53], restored)))  # 7 of 10 power-ons lost
    assert kinds(out + d.advance(restored + 300), OutageClosed) == []
    k = (restored - T0) // IV + 1  # the first whole interval after the restore
    out = d.feed_readings_seen(ALL, T0 + k * IV) + d.advance(T0 + k * IV + 300)
    (closed,) = kinds(out, OutageClosed)
    assert abs(closed.restored_unix_s - restored) <= IV and not closed.momentary


def test_restore_is_robust_to_a_lost_power_on_and_a_straggler():
    d = detector()
    d.feed_events(events(gasps(range(11, 21), T0 + 100)))
    d.advance(T0 + 200)
    restored = T0 + 5000
    rows = restores(range(11, 19), restored, spread=30) + [(19, 2, restored + 2000)]  # meter 20's lost
    out = d.feed_events(events(rows)) + d.advance(restored + 4000)
    (closed,) = kinds(out, OutageClosed)
    assert abs(closed.restored_unix_s - restored) <= 30


def test_a_meter_silent_without_a_gasp_is_a_premise_outage_from_readings():
    d = detector()
    out = []
    for k in range(1, 6):
        seen = ALL if k == 1 else ALL[ALL != 33]
        out += d.feed_readings_seen(seen, T0 + k * IV) + d.advance(T0 + k * IV + 300)
    opened = kinds(out, OutageOpened)
    assert [(o.level, o.asset_id, o.detected_from) for o in opened] == [("meter", 33, "readings_absent")]
    assert opened[0].started_unix_s == T0 + IV and np.isnan(opened[0].last_gasp_unix_s)


def test_a_few_gasps_on_one_transformer_are_premise_candidates_not_a_transformer_outage():
    d = detector()
    d.feed_events(events(gasps([1, 2, 3], T0 + 10)))
    out = d.advance(T0 + 400)
    assert [(o.level, o.asset_id) for o in kinds(out, OutageOpened)] == [("meter", 1), ("meter", 2), ("meter", 3)]
