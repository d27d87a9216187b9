"""Small hand-made networks and outages the reliability tests share (NEM time: UTC+10, no DST)."""

import pandas as pd

NEM = "Australia/Brisbane"

# 100 customers: feeder 1 (60, substation 1, NSW), feeder 2 (40, substation 2, VIC).
SERVED = pd.DataFrame({"region": ["NSW", "VIC"], "substation_id": [1, 2], "feeder_id": [1, 2],
                       "customers": [60, 40]})
FEEDER = {1: ("NSW", 1), 2: ("VIC", 2)}


def at(local: str) -> int:
    return int(pd.Timestamp(local, tz=NEM).timestamp())


def outage(oid, feeder, start_local, minutes, customers, planned=False, cause="equipment", level="feeder"):
    region, sub = FEEDER[feeder]
    start = at(start_local)
    return {"outage_id": oid, "level": level, "asset_id": feeder, "region": region, "substation_id": sub,
            "feeder_id": feeder, "transformer_id": None, "started_unix_s": start,
            "restored_unix_s": start + minutes * 60.0, "customers_affected": customers, "planned": planned,
            "momentary": minutes * 60 <= 180, "cause": "planned" if planned else cause}


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows)


# November 2026 (times local): sums worked by hand in test_reliability_indices.py.
NOVEMBER = frame([
    outage(1, 1, "2026-11-03 10:00", 30, 60, cause="vegetation"),          # 1800 customer-minutes
    outage(2, 2, "2026-11-05 09:00", 120, 10, planned=True, level="transformer"),  # 1200, planned
    outage(3, 2, "2026-11-07 12:00", 1, 40, cause="weather"),              # momentary: MAIFI 0.4
    outage(4, 1, "2026-11-30 23:30", 90, 1, level="meter"),                # runs into December: November's
    outage(5, 1, "2026-10-31 23:00", 120, 1, level="meter"),               # runs into November: October's
    outage(6, 2, "2026-12-01 00:30", 45, 5),                               # 2026-11-30 14:30 UTC: December's
])
