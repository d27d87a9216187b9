"""The SGSC households (data/sgsc-nsw-50-households: 50 NSW homes, kWh per half hour, Feb 2012 - Mar 2014) as NEM12.

The source labels each half hour by its start on a clock that keeps AEST all year, which is NEM
time: every day has 48 labels, 00:00-23:30, on daylight-saving days too (its PROVENANCE.md, caveat 1).
The one glitch is in the labels of the two DST-start days: 01:00 and 01:30 appear twice and
02:00 / 02:30 not at all; the second of each pair (higher CALENDAR_KEY) is the 02:00 / 02:30 slot.
So the label is NEM time as it stands, and the converter only moves those duplicates on by an hour:
no interval is dropped, none is invented, and no day has a DST gap or double. Intervals absent from
the source are written as quality N (null, 0 kWh) on days that hold any reading; days without any are
left out. One NMI per household: "SG" and its 8-digit CUSTOMER_ID.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from meters.nem12.nemtime import NEM_OFFSET_S
from meters.nem12.records import Block
from meters.nem12.series import channel_of, day_blocks
from meters.nem12.writer import write_nem12

SOURCE = Path(__file__).resolve().parents[2] / "data" / "sgsc-nsw-50-households" / "sgsc_50_households_30min.csv.gz"
FROM_PARTICIPANT, TO_PARTICIPANT = "SGSCMDP", "METERS"
CREATED_UNIX_S = 1393855200  # 2014-03-04 00:00 NEM time, the day after the last reading: a stable file
INTERVAL_MINUTES = 30


def nmi_of(customer_id: int) -> str:
    return f"SG{int(customer_id):08d}"


def sgsc_intervals(source: Path | str = SOURCE) -> pd.DataFrame:
    """customer_id, interval_end_unix_s (UTC), kwh: every source row, the DST-start duplicates moved
    to the 02:00 / 02:30 slots they stand for; sorted by customer and time."""
    df = pd.read_csv(source, usecols=["CUSTOMER_ID", "READING_DATETIME", "CALENDAR_KEY", "GENERAL_SUPPLY_KWH"])
    label = pd.to_datetime(df.READING_DATETIME, format="%Y-%m-%d %H:%M:%S")
    df = df.assign(label=label).sort_values(["CUSTOMER_ID", "label", "CALENDAR_KEY"], kind="stable")
    second = df.duplicated(["CUSTOMER_ID", "label"], keep="first")
    df.loc[second, "label"] += pd.Timedelta(hours=1)
    if df.duplicated(["CUSTOMER_ID", "label"]).any():
        raise ValueError("SGSC source has duplicate half hours the DST-start rule does not explain")
    start_s = (df.label - pd.Timestamp(0)).dt.total_seconds().astype(np.int64)  # the label as NEM-time seconds
    out = pd.DataFrame({"customer_id": df.CUSTOMER_ID.to_numpy(),
                        "interval_end_unix_s": start_s.to_numpy() - NEM_OFFSET_S + INTERVAL_MINUTES * 60,
                        "kwh": df.GENERAL_SUPPLY_KWH.to_numpy()})
    return out.sort_values(["customer_id", "interval_end_unix_s"], kind="stable", ignore_index=True)


def sgsc_blocks(source: Path | str = SOURCE) -> Iterator[Block]:
    """NEM12 days of every household: E1 (general supply), kWh, 30 minutes, quality A."""
    intervals = sgsc_intervals(source)
    for customer, rows in intervals.groupby("customer_id", sort=True):
        channel = channel_of(nmi_of(customer), "E1", interval_minutes=INTERVAL_MINUTES, register_id="E1",
                             meter_serial=str(customer))
        yield from day_blocks(channel, rows.interval_end_unix_s.to_numpy(), rows.kwh.to_numpy(),
                              update_time_unix_s=CREATED_UNIX_S)


def write_sgsc_nem12(out, source: Path | str = SOURCE) -> None:
    """The SGSC households as one NEM12 file (path or binary file object)."""
    write_nem12(out, sgsc_blocks(source), from_participant=FROM_PARTICIPANT, to_participant=TO_PARTICIPANT,
                created=CREATED_UNIX_S)
