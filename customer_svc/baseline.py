"""Demand response baselines: what a participant would have used without the event.

AEMO's wholesale demand response baseline methodology uses "high X of Y" day
selection with a same-day adjustment; "10 of 10" (the 10 most recent eligible
days, all kept) is its common form. Implemented here:
- eligible days: the Y most recent days before the event of the same day type
  (weekday/weekend), excluding days with other events;
- high X of Y: of those, the X days with the highest use in the event window;
- baseline per event hour: the mean of the selected days at that hour;
- additive same-day adjustment: mean(actual - baseline) over the `adjust_hours`
  hours ending one hour before the event, capped at +-`cap` of the baseline's mean
  there, added to every event hour (clipped at 0).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Baseline:
    hourly_kwh: np.ndarray  # (event hours,)
    days_used: list[int]
    adjustment_kwh: float


def high_x_of_y(history: np.ndarray, day_ok: np.ndarray, event_day: int, hours: np.ndarray, x: int = 10,
                y: int = 10, event_today: np.ndarray | None = None, adjust_hours: int = 3,
                cap: float = 0.2) -> Baseline:
    """history[d, h]: hourly kWh by day (local clock); hours: the event's hour indices on event_day.

    day_ok[d] marks eligible days (same day type, no event, data present).
    """
    candidates = [d for d in range(event_day - 1, -1, -1) if day_ok[d]][:y]
    if not candidates:
        return Baseline(np.full(len(hours), np.nan), [], 0.0)
    window_use = np.array([np.nansum(history[d, hours]) for d in candidates])
    chosen = [candidates[i] for i in np.argsort(-window_use, kind="stable")[:x]]
    base = np.nanmean(history[np.ix_(chosen, np.arange(24))], axis=0)
    adjustment = 0.0
    first = int(hours[0])
    adj = np.arange(first - 1 - adjust_hours, first - 1)
    if event_today is not None and adj[0] >= 0:
        typical = float(np.nanmean(base[adj]))
        raw = float(np.nanmean(event_today[adj] - base[adj]))
        adjustment = float(np.clip(raw, -cap * typical, cap * typical))
    return Baseline(np.clip(base[hours] + adjustment, 0.0, None), chosen, adjustment)


@dataclass(frozen=True)
class EventResult:
    baseline_kw: float  # mean over event hours, summed over participants
    actual_kw: float
    participants_reduced: int
    coverage: float
    # Per participant (in input order): (baseline kW, actual kW) over the hours with both, or None.
    per_participant: list[tuple[float, float] | None]


def measure(histories: list[np.ndarray], day_oks: list[np.ndarray], event_day: int, hours: np.ndarray,
            baseline_days: int = 10, highest: int | None = None) -> EventResult:
    """Sum the participants' baselines and actual use over the event (kW = kWh per hour): "high X of
    Y" with Y = baseline_days and X = highest (default Y: "10 of 10")."""
    base_total, actual_total, reduced, seen, slots = 0.0, 0.0, 0, 0, 0
    per: list[tuple[float, float] | None] = []
    for history, ok in zip(histories, day_oks):
        today = history[event_day]
        b = high_x_of_y(history, ok, event_day, hours, highest or baseline_days, baseline_days, event_today=today)
        actual = today[hours]
        slots += len(hours)
        present = ~np.isnan(actual) & ~np.isnan(b.hourly_kwh)
        seen += int(present.sum())
        if not present.any():
            per.append(None)
            continue
        base_kw, actual_kw = float(b.hourly_kwh[present].mean()), float(actual[present].mean())
        per.append((base_kw, actual_kw))
        base_total += base_kw
        actual_total += actual_kw
        reduced += int(base_kw > actual_kw)
    return EventResult(base_total, actual_total, reduced, seen / slots if slots else 0.0, per)
