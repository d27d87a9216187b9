"""The outage events one report reads: durations, customer-minutes, the local day each is counted on.

Input contract (the fleet's truth/outages.parquet, the detector's grid.outages): outage_id, level,
asset_id, region, substation_id, feeder_id, transformer_id, started_unix_s, restored_unix_s,
customers_affected, planned, momentary, cause. An interruption belongs to the local day (and so
the month) it started on, whole, even when it runs past midnight or the month's end (IEEE 1366).
An outage not yet restored (restored_unix_s missing) is counted up to the end of the month.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meters.regions import NEM_TIMEZONE

MOMENTARY_MAX_S = 180  # AER STPIS: an interruption of 3 minutes or less is momentary
OUTAGE_COLUMNS = ("outage_id", "level", "asset_id", "region", "substation_id", "feeder_id", "transformer_id",
                  "started_unix_s", "restored_unix_s", "customers_affected", "planned", "momentary", "cause")


@dataclass(frozen=True)
class Month:
    """A calendar month in the network's local time (NEM time, AEST, by default)."""

    start: pd.Timestamp
    tz: str = NEM_TIMEZONE

    @classmethod
    def parse(cls, text: str, tz: str = NEM_TIMEZONE) -> "Month":
        try:
            start = pd.Timestamp(f"{text}-01").tz_localize(tz)
        except ValueError as err:
            raise ValueError(f"month {text!r} is not YYYY-MM") from err
        if start.strftime("%Y-%m") != text:
            raise ValueError(f"month {text!r} is not YYYY-MM")
        return cls(start, tz)

    @property
    def end(self) -> pd.Timestamp:
        return self.start + pd.offsets.MonthBegin(1)

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")

    def days(self) -> pd.DatetimeIndex:
        """The month's local days (midnights, tz-naive dates)."""
        return pd.date_range(self.start.tz_localize(None), self.end.tz_localize(None), freq="D", inclusive="left")


def local_day(unix_s: pd.Series, tz: str) -> pd.Series:
    """The local calendar day (tz-naive midnight) of each instant."""
    return pd.to_datetime(unix_s, unit="s", utc=True).dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()


def prepare(outages: pd.DataFrame, month: Month, until: pd.Timestamp | None = None) -> pd.DataFrame:
    """The outages with duration_s, customer_minutes, sustained, day (local start day); open ones end at `until`."""
    missing = {"started_unix_s", "customers_affected"} - set(outages.columns)
    if missing:
        raise ValueError(f"outages lack columns {sorted(missing)}")
    df = outages.copy()
    until_s = (until if until is not None else month.end).timestamp()
    restored = pd.to_numeric(df.get("restored_unix_s", pd.Series(np.nan, index=df.index)), errors="coerce")
    df["restored_unix_s"] = restored
    df["duration_s"] = (restored.fillna(until_s) - df["started_unix_s"]).clip(lower=0).astype(float)
    if "momentary" not in df or df["momentary"].isna().any():
        derived = df["duration_s"] <= MOMENTARY_MAX_S
        df["momentary"] = derived if "momentary" not in df else df["momentary"].fillna(derived)
    df["momentary"] = df["momentary"].astype(bool)
    df["planned"] = df.get("planned", pd.Series(False, index=df.index)).fillna(False).astype(bool)
    df["sustained"] = ~df["momentary"]
    df["customers_affected"] = df["customers_affected"].astype(np.int64)
    df["customer_minutes"] = np.where(df["sustained"], df["customers_affected"] * df["duration_s"] / 60.0, 0.0)
    if "cause" not in df:
        df["cause"] = "unknown"
    df["cause"] = df["cause"].fillna("unknown").astype(str)
    df["day"] = local_day(df["started_unix_s"], month.tz)
    return df


def in_month(events: pd.DataFrame, month: Month) -> pd.DataFrame:
    """The prepared events that started on one of the month's local days."""
    days = month.days()
    return events[(events["day"] >= days[0]) & (events["day"] <= days[-1])].reset_index(drop=True)
