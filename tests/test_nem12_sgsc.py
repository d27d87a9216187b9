"""The SGSC households as NEM12: every source kWh is kept (the same multiset of values), every day
has 48 half hours in NEM time, and the DST-start label glitch leaves neither a double nor a gap."""

import io

import numpy as np
import pandas as pd
import pytest

from meters.nem12 import Block, Problem, parse
from meters.nem12.nemtime import NEM_OFFSET_S
from meters.nem12.sgsc import SOURCE, nmi_of, sgsc_intervals, write_sgsc_nem12

SOURCE_ROWS = 1_450_232  # data/sgsc-nsw-50-households/PROVENANCE.md
DST_DAYS = ("20121007", "20131006", "20120401", "20130407")  # NSW DST starts and ends in the data


@pytest.fixture(scope="module")
def source():
    return pd.read_csv(SOURCE, usecols=["CUSTOMER_ID", "READING_DATETIME", "CALENDAR_KEY", "GENERAL_SUPPLY_KWH"])


@pytest.fixture(scope="module")
def parsed():
    out = io.BytesIO()
    write_sgsc_nem12(out)
    out.seek(0)
    items = list(parse(out, name="sgsc.csv"))
    return [i for i in items if isinstance(i, Block)], [i for i in items if isinstance(i, Problem)]


def test_every_kwh_is_kept(source, parsed):
    blocks, problems = parsed
    assert problems == [] and len(source) == SOURCE_ROWS
    actual = np.concatenate([b.values[b.quality == "A"] for b in blocks])
    assert len(actual) == SOURCE_ROWS
    assert np.array_equal(np.sort(actual), np.sort(source.GENERAL_SUPPLY_KWH.to_numpy()))
    filled = np.concatenate([b.values[b.quality == "N"] for b in blocks])
    assert (filled == 0).all()  # intervals absent from the source: null, 0 kWh
    assert len({b.nmi for b in blocks}) == 50 and blocks[0].nmi == nmi_of(source.CUSTOMER_ID.min())


def test_every_day_has_48_half_hours_and_no_day_twice(parsed):
    blocks, _ = parsed
    assert {(len(b), b.interval_minutes, b.unit) for b in blocks} == {(48, 30, "kWh")}
    keys = [(b.nmi, b.interval_date) for b in blocks]
    assert len(keys) == len(set(keys))
    assert all(np.all(np.diff(b.interval_end_unix_s) == 1800) for b in blocks)


def test_dst_days_have_neither_double_nor_gap(source, parsed):
    blocks, _ = parsed
    per_day = source.assign(date=source.READING_DATETIME.str[:10].str.replace("-", ""))
    rows = per_day.groupby(["CUSTOMER_ID", "date"]).size()
    actual = {(int(b.nmi[2:]), b.interval_date): int((b.quality == "A").sum()) for b in blocks}
    assert actual == rows.to_dict()  # each source day's rows are that NEM day's actual intervals
    full_dst_days = [key for key in actual if key[1] in DST_DAYS and rows[key] == 48]
    assert len(full_dst_days) == 142  # and where the source has 48 rows, all 48 slots are filled, once each
    assert all(actual[key] == 48 for key in full_dst_days)


def test_the_second_dst_start_duplicate_is_the_0200_slot(source):
    customer = source.CUSTOMER_ID.iloc[0]
    rows = source[(source.CUSTOMER_ID == customer) & (source.READING_DATETIME == "2012-10-07 01:00:00")]
    later = rows.sort_values("CALENDAR_KEY").GENERAL_SUPPLY_KWH.iloc[1]
    intervals = sgsc_intervals()
    mine = intervals[intervals.customer_id == customer].set_index("interval_end_unix_s").kwh
    slot_0200_end = int(pd.Timestamp("2012-10-07 02:30").timestamp()) - NEM_OFFSET_S  # 02:00-02:30 NEM time
    assert mine[slot_0200_end] == later
