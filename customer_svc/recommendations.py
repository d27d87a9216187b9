"""Savings recommendations (plan 8.3) for every customer at once, from one month's usage summary,
each customer's tariff and segment.

- time_shift: when more than 40 % of energy falls in the peak window, name the
  shiftable loads the profile shows (by their time signature) and price moving
  them past 10 pm at the time-of-use peak/off-peak difference.
- tariff_change: bill the month under every offered tariff (billing.py); recommend
  the cheapest when it beats the current one by at least a dollar a month.
- demand_response: the segments the plan names (evening peak, EV households).
- smart_charging: EV households (the customer's record, the EV segment, or the EV signature in
  the month) whose use peaks in the evening (17:00-23:00): price letting a scheduler charge after
  the off-peak start, at the time-of-use weekday rates of the evening energy above the night base.
- virtual_power_plant: solar + battery households (the plan's segment): the programme's
  monthly credit (tariffs.yaml).
- efficiency: high consumption (the high-consumption segment, or a home, not a business segment,
  averaging >= 25 kWh a day): a fifth of the always-on load (the night base x 24) at the flat rate.

Everything is computed with numpy over the customer axis; Python runs per recommendation only
to format its text.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from customer_svc.billing import DAYS_PER_MONTH, covered_days, energy_prices, hours_of, load_tariffs, monthly_bills
from customer_svc.features import hist_quantiles
from customer_svc.usage_summary import LATE_EDGES, UsageSummary

PEAK_SHARE_THRESHOLD = 0.40
DR_SEGMENTS = ("evening_residential_peak", "ev_charging_households")
MIN_TARIFF_SAVING_AUD = 1.0
SHIFTABLE_FRACTION = 0.5  # of a named load's peak-window energy a household can realistically move
EV_SPREAD_KWH = 4.0  # 80th minus 20th percentile of late-evening energy per day
EV_MIN_DAYS = 4
EVENING = (17, 23)  # local hours [start, end) of an "evening peak"
EV_SEGMENT = "ev_charging_households"
VPP_SEGMENT = "solar_battery_households"
HIGH_USE_SEGMENT = "high_consumption_all_day"
BUSINESS_SEGMENTS = ("early_morning_industrial", "business_hours_commercial")
EFFICIENCY_DAILY_KWH = 25.0  # about one and a half times a typical Australian home's day
EFFICIENCY_BASE_CUT = 0.2  # of the always-on load a household can realistically remove
RULES_VERSION = 2  # bump when recommend() gives other results for the same month: the next run renews all


@dataclass(frozen=True)
class Recommendations:
    """One row per recommendation, in customer order (per customer: time_shift, tariff_change,
    demand_response, smart_charging, virtual_power_plant, efficiency)."""

    customer_ids: np.ndarray  # (n,) int64
    recommendation_type: list[str]  # RecommendationType without prefix, lower case
    title: list[str]
    description: list[str]
    estimated_monthly_savings_aud: np.ndarray  # (n,)

    def __len__(self) -> int:
        return len(self.customer_ids)

    def of(self, customer_id: int) -> dict[str, tuple[str, str, float]]:
        """Type -> (title, description, savings) of one customer's recommendations."""
        return {self.recommendation_type[i]: (self.title[i], self.description[i],
                                              float(self.estimated_monthly_savings_aud[i]))
                for i in np.flatnonzero(self.customer_ids == customer_id)}


def recommendation_basis(month: dt.date, summary_version: int) -> str:
    """What recommendations of a month are a function of, besides each customer's segment: the month's
    summary (month and version; a tariff_type change bumps the months of the customer's usage), the
    tariffs, the rules."""
    tariffs = hashlib.sha256(json.dumps(load_tariffs(), sort_keys=True).encode()).hexdigest()[:16]
    return f"{month.isoformat()} summary v{summary_version} tariffs {tariffs} rules v{RULES_VERSION}"


def _clock(hour: int) -> str:
    return f"{(hour - 1) % 12 + 1}{'am' if hour % 24 < 12 else 'pm'}"


def shiftable_loads(u: UsageSummary) -> dict[str, np.ndarray]:
    """Loads recognisable by their time signature -> (c,) their mean kWh per day in the peak window,
    NaN where the customer's month does not show the load.

    EV charging: a multi-kW block on some evenings, absent on others (per-day 20:00-24:00 energy:
    80th minus 20th percentile above 4 kWh, over at least 4 days).
    Pool pump: a steady daytime block (10:00-16:00) well above the night base.
    Hot water: a morning and evening step (06-08, 18-20) above base.
    Dishwasher/laundry: an evening bump (19-22) above the day's typical hour.
    The night base is the lowest hourly mean of 01:00-05:00.
    """
    hourly = u.hourly_means()
    base = hourly[:, 1:5].min(axis=1)
    typical = hourly.mean(axis=1)
    q20, q80 = hist_quantiles(u.late_hist, LATE_EDGES, (0.2, 0.8))
    ev = (u.late_hist.sum(axis=1) >= EV_MIN_DAYS) & (q80 - q20 > EV_SPREAD_KWH)
    found = {
        "EV charging": (ev, hourly[:, 19] - base),
        "pool pump": (hourly[:, 10:16].min(axis=1) > base + 0.8,
                      (hourly[:, 14:16] - base[:, None]).clip(0).sum(axis=1)),
        "hot water": (np.minimum(hourly[:, 6:8].mean(axis=1), hourly[:, 18:20].mean(axis=1)) > base + 0.6,
                      (hourly[:, 18:20] - base[:, None]).clip(0).sum(axis=1) / 2),
        "dishwasher/laundry": ((hourly[:, 19:22].mean(axis=1) > 1.3 * np.maximum(typical, 1e-6)) & ~ev,
                               hourly[:, 19] - typical),
    }
    return {name: np.where(shown, kwh.clip(0), np.nan) for name, (shown, kwh) in found.items()}


def peak_share(u: UsageSummary) -> np.ndarray:
    """(c,) share of energy in the time-of-use peak hours, any day."""
    peak = hours_of(load_tariffs()["tariffs"]["time_of_use"]["peak"]["hours"])
    total = u.kwh.sum(axis=(1, 2))
    return np.divide(u.kwh[:, :, peak].sum(axis=(1, 2)), total, out=np.zeros(len(u)), where=total > 0)


def recommend(u: UsageSummary, customer_ids: np.ndarray, tariff_types: Sequence[str], segments: Sequence[str],
              month: str, ev_charging: Sequence[bool] | None = None) -> Recommendations:
    """Recommendations for the customers of `u` (one month's summary, in customer_ids' order) with data
    in it, given each one's tariff and segment key (and whether its record says it charges an EV);
    `month` names the month in the text ("March 2026")."""
    billed = u.has_usage()
    seg = np.asarray(segments, dtype=object)
    ev = np.zeros(len(u), dtype=bool) if ev_charging is None else np.asarray(ev_charging, dtype=bool)
    parts = [_time_shift(u, billed, month), _tariff_change(u, billed, tariff_types, month),
             _demand_response(billed & np.isin(seg, DR_SEGMENTS)),
             _smart_charging(u, billed & (ev | (seg == EV_SEGMENT)), month),
             _virtual_power_plant(billed & (seg == VPP_SEGMENT)),
             _efficiency(u, billed, seg, month)]
    index = np.concatenate([p[0] for p in parts])
    order = np.argsort(index, kind="stable")  # grouped by customer, types in the order above

    def column(j: int) -> list:
        values = [v for p in parts for v in p[j]]
        return [values[i] for i in order]
    return Recommendations(np.asarray(customer_ids)[index[order]], column(1), column(2), column(3),
                           np.concatenate([p[4] for p in parts])[order])


# A part: (customer indices, types, titles, descriptions, savings), one entry per recommendation.
_Part = tuple[np.ndarray, list[str], list[str], list[str], np.ndarray]


def _time_shift(u: UsageSummary, billed: np.ndarray, month: str) -> _Part:
    tariffs = load_tariffs()
    tou = tariffs["tariffs"]["time_of_use"]
    share = peak_share(u)
    who = np.flatnonzero(billed & (share > PEAK_SHARE_THRESHOLD))
    loads = shiftable_loads(u)
    names = list(loads)
    kwh = np.stack([loads[n][who] for n in names], axis=1)  # (customers advised, loads), NaN: not shown
    code = (~np.isnan(kwh)) @ (1 << np.arange(len(names)))  # which loads, as bits
    phrase = {c: ", ".join(n for j, n in enumerate(names) if c >> j & 1) or "flexible appliances"
              for c in np.unique(code).tolist()}
    spread = tou["peak"]["aud_per_kwh"] - tou["off_peak_aud_per_kwh"]
    savings = np.round(np.nansum(kwh, axis=1) * SHIFTABLE_FRACTION * DAYS_PER_MONTH * spread, 2)
    start, end = tou["peak"]["hours"]
    text = (f"In {month}, {{:.0%}} of your use fell in the {_clock(start)}-{_clock(end)} peak. "
            f"Move {{}} to after {_clock(tariffs['off_peak_from_hour'])}.")
    n = len(who)
    return (who, ["time_shift"] * n, ["Shift usage to off-peak hours"] * n,
            list(map(text.format, share[who].tolist(), [phrase[c] for c in code.tolist()])), savings)


def _tariff_change(u: UsageSummary, billed: np.ndarray, tariff_types: Sequence[str], month: str) -> _Part:
    bills = monthly_bills(u)
    names = list(bills)
    table = np.stack(list(bills.values()), axis=1)  # (c, tariffs)
    offered, inverse = np.unique(np.asarray(tariff_types, dtype=str), return_inverse=True)
    current = np.array([names.index(t) if t in names else -1 for t in offered.tolist()], dtype=np.int64)
    current = current[inverse.ravel()] if len(offered) else np.zeros(0, dtype=np.int64)
    best = np.argmin(np.where(np.isnan(table), np.inf, table), axis=1)
    rows = np.arange(len(u))
    saving = np.round(table[rows, current] - table[rows, best], 2)  # current -1 (not offered): masked below
    who = np.flatnonzero(billed & (current >= 0) & (best != current) & (saving >= MIN_TARIFF_SAVING_AUD))
    now, cheapest = current[who], best[who]
    text = f"Billing {month} under each offer: {{}} ${{:.2f}}/month, {{}} ${{:.2f}}/month."
    descriptions = list(map(text.format, [names[c] for c in now.tolist()], table[who, now].tolist(),
                            [names[b] for b in cheapest.tolist()], table[who, cheapest].tolist()))
    titles = [f"Switch to the {n.replace('_', '-')} tariff" for n in names]
    return (who, ["tariff_change"] * len(who), [titles[b] for b in cheapest.tolist()], descriptions, saving[who])


def _demand_response(eligible: np.ndarray) -> _Part:
    who = np.flatnonzero(eligible)
    n = len(who)
    return (who, ["demand_response"] * n, ["Join our Demand Response program"] * n,
            ["Earn credits by reducing usage during a few peak events a season."] * n,
            np.full(n, float(load_tariffs()["demand_response_credit_aud_per_month"])))


def _night_base(hourly: np.ndarray) -> np.ndarray:
    """(c,) the lowest hourly mean of 01:00-05:00: the always-on load."""
    return hourly[:, 1:5].min(axis=1)


def _smart_charging(u: UsageSummary, ev_households: np.ndarray, month: str) -> _Part:
    tariffs = load_tariffs()
    hourly, weekday = u.hourly_means(), u.weekday_means()
    peak_hour = hourly.argmax(axis=1)
    shown = ~np.isnan(shiftable_loads(u)["EV charging"])
    evening = (peak_hour >= EVENING[0]) & (peak_hour < EVENING[1])
    tou = energy_prices(tariffs["tariffs"]["time_of_use"])[0]  # weekday AUD/kWh by local hour
    hours = slice(*EVENING)
    above = (weekday[:, hours] - _night_base(hourly)[:, None]).clip(0)  # evening kWh above the base
    weekday_share = 5 / 7
    savings = np.round(above @ (tou[hours] - tariffs["tariffs"]["time_of_use"]["off_peak_aud_per_kwh"])
                       * DAYS_PER_MONTH * weekday_share, 2)
    who = np.flatnonzero((ev_households | shown) & evening & (savings > 0))
    text = (f"In {month} your use peaked at {{}} on weekday evenings, when cars charge. Smart charging starts the "
            f"car after {_clock(tariffs['off_peak_from_hour'])} by itself and has it full by morning.")
    n = len(who)
    return (who, ["smart_charging"] * n, ["Charge your EV off-peak automatically"] * n,
            list(map(text.format, [_clock(h) for h in peak_hour[who].tolist()])), savings[who])


def _virtual_power_plant(eligible: np.ndarray) -> _Part:
    who = np.flatnonzero(eligible)
    n = len(who)
    return (who, ["virtual_power_plant"] * n, ["Join our virtual power plant"] * n,
            ["Your solar and battery can earn a credit: the battery discharges at a few network peaks a season,"
             " always keeping a reserve for your home."] * n,
            np.full(n, float(load_tariffs()["virtual_power_plant_credit_aud_per_month"])))


def _efficiency(u: UsageSummary, billed: np.ndarray, segments: np.ndarray, month: str) -> _Part:
    daily = np.divide(u.kwh.sum(axis=(1, 2)), covered_days(u), out=np.zeros(len(u)), where=billed)
    home = ~np.isin(segments, BUSINESS_SEGMENTS)
    who = np.flatnonzero(billed & ((segments == HIGH_USE_SEGMENT) | (home & (daily >= EFFICIENCY_DAILY_KWH))))
    always_on = _night_base(u.hourly_means()) * 24  # kWh a day
    rate = load_tariffs()["tariffs"]["flat"]["energy_aud_per_kwh"]
    savings = np.round(always_on * EFFICIENCY_BASE_CUT * DAYS_PER_MONTH * rate, 2)
    text = (f"In {month} your home used {{:.0f}} kWh a day, {{:.0f}} kWh of it always on (the overnight base). "
            f"Cutting that by a fifth (standby, an old fridge, pool pump hours) saves energy every hour.")
    n = len(who)
    return (who, ["efficiency"] * n, ["Cut your always-on energy use"] * n,
            list(map(text.format, daily[who].tolist(), always_on[who].tolist())), savings[who])
