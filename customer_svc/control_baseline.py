"""Demand response portfolio baseline from a control group: what the participants, together, would
have used, predicted from customers who were not asked to respond.

"10 of 10" (baseline.py) looks back at the participants' own recent days; events fall on the
hottest days, so it misses the heat that drove the day's demand (on the held-out fleet it
under-reads by ~4 % of use, a ~22 % error in the reduction). Customers outside the event see the
same weather and the same day. Fitted by least squares on the `lookback` most recent eligible days:

    P_event(d) ~ a + b * C_event(d) + c * P_pre(d) + e * C_pre(d)

with P, C the participants' and the control group's summed kWh over the event hours and over
`pre_hours` earlier the same day (before the event is notified; the hour just before the event is
left out, where pre-cooling would show). The participants' own pre-event hours carry the part of
the day that is theirs alone (who is home today), the control's the part shared with everyone.
Comparison-group baselines of this kind are in the US DOE/LBNL demand response M&V protocols;
AEMO's own baseline is "10 of 10", kept as the service's default.
"""

from dataclasses import dataclass

import numpy as np

LOOKBACK_DAYS = 60
MIN_DAYS = 10  # fewer eligible days than this: not enough to fit 4 coefficients


@dataclass(frozen=True)
class ControlBaseline:
    event_kwh: float  # participants' predicted kWh over the event hours, summed
    days_used: int
    control_customers: int
    coefficients: tuple[float, ...]  # (a, b, c, e)


def pre_event_hours(event_hours: np.ndarray) -> np.ndarray:
    """The 3 hours ending one hour before the event (as baseline.py's same-day adjustment)."""
    first = int(event_hours[0])
    return np.arange(max(first - 4, 0), max(first - 1, 0))


def fit(participants: np.ndarray, control: np.ndarray, day_ok: np.ndarray, event_day: int,
        event_hours: np.ndarray, control_customers: int, lookback: int = LOOKBACK_DAYS) -> ControlBaseline:
    """participants[d, h], control[d, h]: summed hourly kWh of each group by day; day_ok[d]: days
    eligible as baseline days (same day type, no event). Raises ValueError when it cannot fit."""
    pre = pre_event_hours(event_hours)
    if len(pre) == 0:
        raise ValueError("an event starting before 02:00 leaves no pre-event hours for a control baseline")
    days = [d for d in range(event_day - 1, -1, -1) if day_ok[d]][:lookback]
    rows = np.array(days, dtype=np.int64)

    def features(d):
        return np.column_stack([np.ones(len(np.atleast_1d(d))), control[np.ix_(np.atleast_1d(d), event_hours)].sum(1),
                                participants[np.ix_(np.atleast_1d(d), pre)].sum(1),
                                control[np.ix_(np.atleast_1d(d), pre)].sum(1)])

    if len(rows):
        x = features(rows)
        y = participants[np.ix_(rows, event_hours)].sum(1)
        usable = np.isfinite(x).all(axis=1) & np.isfinite(y)
        x, y = x[usable], y[usable]
    if not len(rows) or len(y) < MIN_DAYS:
        raise ValueError(f"a control baseline needs {MIN_DAYS} eligible days before the event with data, "
                         f"found {0 if not len(rows) else len(y)}")
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    today = features(event_day)[0]
    if not np.isfinite(today).all():
        raise ValueError("the control group or the participants have no data in the pre-event hours of the event day")
    return ControlBaseline(float(max(today @ coef, 0.0)), len(y), control_customers, tuple(float(c) for c in coef))
