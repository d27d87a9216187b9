"""SAIDI, SAIFI, CAIDI and MAIFI of a month, for the network, each region, substation or feeder.

SAIDI = sustained customer-minutes interrupted / customers served; SAIFI = sustained customer
interruptions / customers served; CAIDI = SAIDI / SAIFI (minutes per interruption; NaN when SAIFI
is 0: no interruption, no duration); MAIFI = momentary customer interruptions / customers served.
Each for the categories below; one row per group and category.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring_svc.reliability.events import Month, in_month, prepare
from scoring_svc.reliability.major_events import MajorEvents, major_event_days
from scoring_svc.reliability.served import GROUPINGS, customers_served

# Category -> which interruptions it counts (planned, on a major event day).
CATEGORIES = ("total", "unplanned", "unplanned_normalised", "major_event_days", "planned")
INDICES = ("saidi", "saifi", "caidi", "maifi")
SUMS = ("customer_minutes", "customer_interruptions", "momentary_interruptions", "sustained_events",
        "momentary_events")


@dataclass(frozen=True)
class MonthEvents:
    """A month's events, flagged, with the major event days that flag them and the network's customers."""

    month: Month
    events: pd.DataFrame  # prepared (events.prepare) plus major_event_day, started in the month
    major_events: MajorEvents
    customers: int


def month_events(outages: pd.DataFrame, served: pd.DataFrame, month: str | Month) -> MonthEvents:
    """Prepare the outages, find the major event days over their history, keep those of the month."""
    month = Month.parse(month) if isinstance(month, str) else month
    customers = int(customers_served(served, [])["customers_served"].iloc[0])
    if customers <= 0:
        raise ValueError("no customers served")
    events = prepare(outages, month)
    meds = major_event_days(events, customers, month)
    events = in_month(events, month)
    events["major_event_day"] = events["day"].isin(meds.days) & ~events["planned"]
    return MonthEvents(month, events, meds, customers)


def _category_masks(ev: pd.DataFrame) -> dict[str, pd.Series]:
    unplanned = ~ev["planned"]
    return {"total": pd.Series(True, index=ev.index), "unplanned": unplanned,
            "unplanned_normalised": unplanned & ~ev["major_event_day"],
            "major_event_days": ev["major_event_day"], "planned": ev["planned"]}


def _sums(ev: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    per = pd.DataFrame({
        "customer_minutes": ev["customer_minutes"],
        "customer_interruptions": np.where(ev["sustained"], ev["customers_affected"], 0),
        "momentary_interruptions": np.where(ev["momentary"], ev["customers_affected"], 0),
        "sustained_events": ev["sustained"].astype(np.int64),
        "momentary_events": ev["momentary"].astype(np.int64),
    }, index=ev.index)
    if not keys:
        return per.sum().to_frame().T
    return per.groupby([ev[k] for k in keys]).sum().reset_index()


def _with_served(sums: pd.DataFrame, served: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if not keys:
        return pd.concat([served.reset_index(drop=True), sums.reset_index(drop=True)], axis=1)
    for k in keys:  # outages' ids may be float (NaN elsewhere): align to the served table's type
        if sums[k].dtype != served[k].dtype and len(sums):
            sums[k] = sums[k].astype(served[k].dtype)
    return served.merge(sums, on=keys, how="left")


def indices_of(me: MonthEvents, served: pd.DataFrame, grouping: str = "network") -> pd.DataFrame:
    """One row per group of `grouping` (network, region, substation, feeder) and category."""
    if grouping not in GROUPINGS:
        raise ValueError(f"grouping {grouping!r} is not one of {sorted(GROUPINGS)}")
    keys = GROUPINGS[grouping]
    counts = customers_served(served, keys)
    frames = []
    for category, mask in _category_masks(me.events).items():
        table = _with_served(_sums(me.events[mask], keys), counts, keys)
        table[list(SUMS)] = table[list(SUMS)].fillna(0)
        table.insert(len(keys), "category", category)
        frames.append(table)
    out = pd.concat(frames, ignore_index=True)
    for col in SUMS[1:]:
        out[col] = out[col].astype(np.int64)
    n = out["customers_served"].astype(float)
    out["saidi"] = out["customer_minutes"] / n
    out["saifi"] = out["customer_interruptions"] / n
    out["caidi"] = (out["saidi"] / out["saifi"]).where(out["saifi"] > 0)
    out["maifi"] = out["momentary_interruptions"] / n
    out.insert(0, "month", me.month.label)
    return out


def reliability_indices(outages: pd.DataFrame, served: pd.DataFrame, month: str | Month,
                        grouping: str = "network") -> pd.DataFrame:
    """SAIDI/SAIFI/CAIDI/MAIFI of `month` ('YYYY-MM') per group and category (see CATEGORIES)."""
    return indices_of(month_events(outages, served, month), served, grouping)
