"""The real demand series the project ships, as regular grids for the backtests (evaluation.py).

- SGSC: 50 NSW households, 30-minute kWh (data/sgsc-nsw-50-households). Labels are read as NEM
  time (UTC+10; the trial's meters record AEST) and as interval starts (the source does not say;
  at day-ahead the choice only shifts the slots). The DST-start days' doubled 01:00/01:30 labels
  are the missing 02:00/02:30 slots (PROVENANCE.md caveat 1): the duplicate with the higher
  CALENDAR_KEY moves one hour on. Each household on its own; and their sum, over the span where at
  least 40 are metered, with a household missing at a step counted at the mean of those present
  (the sum of 50 at every step, not a sum that drops when a meter's data has a gap).
- ETTh1: one transformer's hourly load channels (data/ett-transformer), local time of China
  (UTC+8, no DST), labels as interval starts, holidays of China.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecast_svc.intervals import NEM_ZONE
from forecast_svc.lag_features import Calendar

DATA = Path(__file__).resolve().parent.parent / "data"
SGSC = DATA / "sgsc-nsw-50-households" / "sgsc_50_households_30min.csv.gz"
ETTH1 = DATA / "ett-transformer" / "ETTh1.csv"
ETT_LOADS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL")
MIN_HOUSEHOLDS_IN_SUM = 40
NSW = Calendar("Australia/Sydney", "AU", "NSW")
CHINA = Calendar("Asia/Shanghai", "CN", "")


@dataclass
class RealSeries:
    name: str
    y: np.ndarray  # on the grid, NaN missing
    ends: pd.DatetimeIndex  # interval ends, UTC
    step: pd.Timedelta
    calendar: Calendar
    aggregate: bool  # a sum of many customers (the goal's series), not one household

    @property
    def spd(self) -> int:
        return int(pd.Timedelta(days=1) / self.step)


def _grid(values: pd.Series, step: pd.Timedelta) -> pd.Series:
    return values.reindex(pd.date_range(values.index.min(), values.index.max(), freq=step))


def sgsc_households(path: Path = SGSC) -> dict[str, pd.Series]:
    raw = pd.read_csv(path, usecols=["CUSTOMER_ID", "READING_DATETIME", "CALENDAR_KEY", "GENERAL_SUPPLY_KWH"])
    raw = raw.sort_values(["CUSTOMER_ID", "READING_DATETIME", "CALENDAR_KEY"])
    start = pd.to_datetime(raw["READING_DATETIME"])
    repeat = raw.duplicated(["CUSTOMER_ID", "READING_DATETIME"], keep="first").to_numpy()
    start = start + pd.to_timedelta(np.where(repeat, 60, 0), unit="min")
    end = pd.DatetimeIndex(start).tz_localize(NEM_ZONE).tz_convert("UTC") + pd.Timedelta(minutes=30)
    raw = raw.assign(ds=end)
    step = pd.Timedelta(minutes=30)
    return {str(cid): _grid(g.drop_duplicates("ds").set_index("ds")["GENERAL_SUPPLY_KWH"], step)
            for cid, g in raw.groupby("CUSTOMER_ID")}


def sgsc_series(path: Path = SGSC) -> list[RealSeries]:
    homes = sgsc_households(path)
    step = pd.Timedelta(minutes=30)
    table = pd.DataFrame(homes)
    # metered: between a household's first and last reading (gaps inside count as present-but-missing)
    span = pd.DataFrame({k: (table.index >= s.first_valid_index()) & (table.index <= s.last_valid_index())
                         for k, s in homes.items()}, index=table.index)
    enough = span.sum(axis=1) >= MIN_HOUSEHOLDS_IN_SUM
    idx = table.index[enough]
    total = (table.loc[idx].mean(axis=1) * len(homes))
    out = [RealSeries("sgsc_sum", total.to_numpy(), pd.DatetimeIndex(idx), step, NSW, True)]
    for k, s in homes.items():
        out.append(RealSeries(f"sgsc_{k}", s.to_numpy(), pd.DatetimeIndex(s.index), step, NSW, False))
    return out


def etth1_series(path: Path = ETTH1) -> list[RealSeries]:
    raw = pd.read_csv(path)
    step = pd.Timedelta(hours=1)
    ends = pd.DatetimeIndex(pd.to_datetime(raw["date"])).tz_localize("Asia/Shanghai").tz_convert("UTC") + step
    out = []
    for col in ETT_LOADS:
        s = _grid(pd.Series(raw[col].to_numpy(float), index=ends), step)
        out.append(RealSeries(f"etth1_{col.lower()}", s.to_numpy(), pd.DatetimeIndex(s.index), step, CHINA, True))
    return out
