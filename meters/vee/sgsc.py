"""The SGSC households (Smart Grid, Smart City, NSW; data/sgsc-nsw-50-households/PROVENANCE.md)
as one IntervalSeries per household: real meters whose truth is known, for VEE's evaluation.

The source labels 48 half hours per day on the NEM clock (UTC+10, no daylight saving) and we read
a label as its interval's start, as meters.fleet.realism does. On the two NSW daylight-saving
start days the source labels 02:00 and 02:30 as a second 01:00 and 01:30; the duplicate with the
higher CALENDAR_KEY is the later slot (PROVENANCE.md), so it is moved one hour on.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from meters.vee.series import NEM_OFFSET_S, IntervalSeries, on_grid

DATA = Path(__file__).resolve().parents[2] / "data" / "sgsc-nsw-50-households" / "sgsc_50_households_30min.csv.gz"
INTERVAL_S = 1800


def load(path: Path = DATA) -> dict[int, IntervalSeries]:
    df = pd.read_csv(path, usecols=["CUSTOMER_ID", "READING_DATETIME", "CALENDAR_KEY", "GENERAL_SUPPLY_KWH"],
                     parse_dates=["READING_DATETIME"])
    df = df.sort_values(["CUSTOMER_ID", "READING_DATETIME", "CALENDAR_KEY"], kind="stable")
    later = df.duplicated(["CUSTOMER_ID", "READING_DATETIME"], keep="first")
    df.loc[later, "READING_DATETIME"] += pd.Timedelta(hours=1)
    label_s = (df["READING_DATETIME"] - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
    df["end_s"] = label_s.to_numpy(dtype=np.int64) + INTERVAL_S - NEM_OFFSET_S
    return {int(cid): on_grid(g["end_s"].to_numpy(), g["GENERAL_SUPPLY_KWH"].to_numpy(), INTERVAL_S)
            for cid, g in df.groupby("CUSTOMER_ID", sort=True)}
