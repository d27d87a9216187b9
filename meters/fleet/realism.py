"""Load statistics for comparing the synthetic fleet with real household data (SGSC, NSW).

`python -m meters.fleet.realism --sgsc PATH` prints the comparison table kept in
docs/fleet.md. SGSC is only read here, on request; nothing at run time needs it.
"""

import argparse
import json
from datetime import datetime

import numpy as np
import pandas as pd

from meters.fleet.config import NEM_TZ, FleetConfig
from meters.fleet.generate import generate_topology, iter_reading_chunks
from meters.fleet.segments import SEGMENT_KEYS

HOUSEHOLD_SEGMENTS = [k for k in SEGMENT_KEYS if k not in ("early_morning_industrial", "business_hours_commercial")]


def load_stats(df: pd.DataFrame) -> dict[str, float]:
    """df: customer, local_time (naive, NEM clock), kwh per 30 minutes."""
    k = df["kwh"]
    day = df["local_time"].dt.normalize()
    daily = df.groupby(["customer", day])["kwh"].agg(["sum", "count"])
    daily = daily[daily["count"] == 48]["sum"]
    per_household = daily.groupby(level=0).mean()
    hour = df.groupby(df["local_time"].dt.hour)["kwh"].mean()
    weekend = df["local_time"].dt.day_of_week >= 5
    return {
        "half_hour_mean_kwh": float(k.mean()),
        "half_hour_median_kwh": float(k.median()),
        "half_hour_p99_kwh": float(k.quantile(0.99)),
        "zero_share": float((k == 0).mean()),
        "daily_mean_kwh": float(daily.mean()),
        "household_daily_p10_kwh": float(per_household.quantile(0.1)),
        "household_daily_median_kwh": float(per_household.median()),
        "household_daily_p90_kwh": float(per_household.quantile(0.9)),
        "half_hour_cv_median": float(df.groupby("customer")["kwh"].agg(lambda x: x.std() / x.mean()).median()),
        "daily_cv_median": float(daily.groupby(level=0).agg(lambda x: x.std() / x.mean()).median()),
        "peak_hour": float(hour.idxmax()),
        "trough_hour": float(hour.idxmin()),
        "peak_to_trough": float(hour.max() / hour.min()),
        "weekend_to_weekday": float(k[weekend].mean() / k[~weekend].mean()),
    }


def sgsc_frame(path: str, months: tuple[int, ...]) -> pd.DataFrame:
    raw = pd.read_csv(path, usecols=["CUSTOMER_ID", "READING_DATETIME", "GENERAL_SUPPLY_KWH"],
                      parse_dates=["READING_DATETIME"])
    raw = raw[raw["READING_DATETIME"].dt.month.isin(months)]
    return pd.DataFrame({"customer": raw["CUSTOMER_ID"], "local_time": raw["READING_DATETIME"],
                         "kwh": raw["GENERAL_SUPPLY_KWH"]})


def fleet_frame(meters: int, days: int, start: datetime, seed: int = 3) -> pd.DataFrame:
    """Non-solar households in NSW at 30 minutes, as SGSC sampled them (no PV, no business)."""
    cfg = FleetConfig(meters=meters, days=days, seed=seed, interval_minutes=30, start=start,
                      region_shares={"NSW": 1.0, "VIC": 0.0, "QLD": 0.0, "SA": 0.0, "TAS": 0.0})
    topo = generate_topology(cfg)
    c = topo.customers
    keep_ids = c.loc[c["segment"].isin(HOUSEHOLD_SEGMENTS) & ~c["solar_installed"], "customer_id"].to_numpy()
    parts = []
    for r in iter_reading_chunks(cfg, topo):
        m = np.isin(r.meter_ids, keep_ids)
        parts.append(pd.DataFrame({"customer": r.meter_ids[m], "t": r.reading_times_unix_s[m] - 1800,
                                   "kwh": r.consumption_kwh[m]}))
    df = pd.concat(parts, ignore_index=True)
    # SGSC labels are NEM clock (UTC+10) interval starts: label ours the same way.
    df["local_time"] = pd.to_datetime(df.pop("t") + 36_000, unit="s")
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sgsc", required=True, help="sgsc_50_households_30min.csv.gz")
    ap.add_argument("--meters", type=int, default=2000)
    args = ap.parse_args()
    rows = {}
    for label, months, start in (("summer (Jan-Feb)", (1, 2), datetime(2026, 1, 5, tzinfo=NEM_TZ)),
                                 ("winter (Jun-Jul)", (6, 7), datetime(2026, 6, 1, tzinfo=NEM_TZ))):
        rows[f"SGSC {label}"] = load_stats(sgsc_frame(args.sgsc, months))
        rows[f"fleet {label}"] = load_stats(fleet_frame(args.meters, 28, start))
    print(json.dumps(rows, indent=1))
    print(pd.DataFrame(rows).round(3).to_string())


if __name__ == "__main__":
    main()
