"""Savings recommendations (plan 8.3) from a customer's usage, tariff and segment.

- time_shift: when more than 40 % of energy falls in the peak window, name the
  shiftable loads the profile shows (by their time signature) and price moving
  them past 10 pm at the time-of-use peak/off-peak difference.
- tariff_change: bill the real interval data under every offered tariff; recommend
  the cheapest when it beats the current one by at least a dollar a month.
- demand_response: the segments the plan names (evening peak, EV households).
"""

from dataclasses import dataclass

import numpy as np

from customer_svc.billing import DAYS_PER_MONTH, Usage, all_bills, load_tariffs

PEAK_SHARE_THRESHOLD = 0.40
DR_SEGMENTS = ("evening_residential_peak", "ev_charging_households")
MIN_TARIFF_SAVING_AUD = 1.0
SHIFTABLE_FRACTION = 0.5  # of a named load's peak-window energy a household can realistically move


@dataclass(frozen=True)
class Recommendation:
    recommendation_type: str  # time_shift, tariff_change, demand_response
    title: str
    description: str
    estimated_monthly_savings_aud: float


def shiftable_loads(usage: Usage) -> dict[str, float]:
    """Loads recognisable by their time signature -> their mean kWh per day in the peak window.

    EV charging: a multi-kW block on some evenings after 19:00, absent on others.
    Pool pump: a steady daytime block (10:00-16:00) well above the night base.
    Hot water: a morning and evening step (06-08, 18-20) above base.
    Dishwasher/laundry: an evening bump (19-22) above the day's typical hour.
    """
    kwh = np.nan_to_num(usage.kwh)
    base = np.percentile(kwh[:, 1:5], 25) if kwh.size else 0.0
    hourly = kwh.mean(axis=0)
    loads: dict[str, float] = {}
    late = kwh[:, 19:23].sum(axis=1)
    if len(late) >= 4 and np.percentile(late, 80) - np.percentile(late, 20) > 4.0:
        loads["EV charging"] = float(np.clip(kwh[:, 19:20].sum(axis=1) - base, 0, None).mean())
    if hourly[10:16].min() > base + 0.8:
        loads["pool pump"] = float((hourly[14:16] - base).clip(0).sum())
    if min(hourly[6:8].mean(), hourly[18:20].mean()) > base + 0.6:
        loads["hot water"] = float((hourly[18:20] - base).clip(0).sum() / 2)
    if hourly[19:22].mean() > 1.3 * max(hourly.mean(), 1e-6) and "EV charging" not in loads:
        loads["dishwasher/laundry"] = float((hourly[19:20] - hourly.mean()).clip(0).sum())
    return loads


def peak_share(usage: Usage) -> float:
    spec = load_tariffs()["tariffs"]["time_of_use"]
    start, end = spec["peak"]["hours"]
    kwh = np.nan_to_num(usage.kwh)
    total = kwh.sum()
    return float(kwh[:, start:end].sum() / total) if total > 0 else 0.0


def recommend(usage: Usage, tariff_type: str, segment: str) -> list[Recommendation]:
    tariffs = load_tariffs()
    recs: list[Recommendation] = []
    share = peak_share(usage)
    if share > PEAK_SHARE_THRESHOLD:
        loads = shiftable_loads(usage)
        tou = tariffs["tariffs"]["time_of_use"]
        spread = tou["peak"]["aud_per_kwh"] - tou["off_peak_aud_per_kwh"]
        kwh_day = sum(loads.values()) * SHIFTABLE_FRACTION
        names = ", ".join(loads) or "flexible appliances"
        recs.append(Recommendation(
            "time_shift", "Shift usage to off-peak hours",
            f"{share:.0%} of your use falls in the 2pm-8pm peak. Move {names} to after "
            f"{tariffs['off_peak_from_hour'] - 12}pm.",
            round(kwh_day * DAYS_PER_MONTH * spread, 2)))
    bills = all_bills(usage, tariffs)
    best = min(bills, key=bills.get)
    current = bills.get(tariff_type)
    if current is not None and best != tariff_type and current - bills[best] >= MIN_TARIFF_SAVING_AUD:
        recs.append(Recommendation(
            "tariff_change", f"Switch to the {best.replace('_', '-')} tariff",
            f"Billing your last {usage.days} days under each offer: {tariff_type} ${current:.2f}/month, "
            f"{best} ${bills[best]:.2f}/month.",
            round(current - bills[best], 2)))
    if segment in DR_SEGMENTS:
        recs.append(Recommendation(
            "demand_response", "Join our Demand Response program",
            "Earn credits by reducing usage during a few peak events a season.",
            float(tariffs["demand_response_credit_aud_per_month"])))
    return recs
