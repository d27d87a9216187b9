"""Major event days by IEEE 1366-2012's 2.5 beta method.

Daily SAIDI of unplanned sustained interruptions over a history (IEEE 1366: five years; here the
up to five years of events given, ending with the reported month); alpha and beta are the mean and
the sample standard deviation (ddof=1, as the standard's worked example) of ln(daily SAIDI) over
the days whose SAIDI is not zero; T_MED = exp(alpha + 2.5 beta). A day whose daily SAIDI exceeds
T_MED is a major event day. Fewer than two non-zero days give no threshold and no major event day.
MEDs are found for the whole network (one distributor), and their interruptions are set apart in
every grouping.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring_svc.reliability.events import Month

BETA_MULTIPLE = 2.5
HISTORY_YEARS = 5


@dataclass(frozen=True)
class MajorEvents:
    t_med: float  # minutes per customer per day; inf when there is no threshold
    alpha: float
    beta: float
    daily_saidi: pd.Series  # unplanned sustained SAIDI per local day of the history (non-zero days)
    days: pd.DatetimeIndex  # the major event days of the history

    def in_month(self, month: Month) -> pd.DatetimeIndex:
        d = month.days()
        return self.days[(self.days >= d[0]) & (self.days <= d[-1])]


def daily_saidi(events: pd.DataFrame, customers: int) -> pd.Series:
    """Unplanned sustained customer-minutes per local day / customers served (prepared events)."""
    unplanned = events[events["sustained"] & ~events["planned"]]
    return (unplanned.groupby("day")["customer_minutes"].sum() / customers).rename("saidi")


def threshold(daily: pd.Series) -> tuple[float, float, float]:
    """(T_MED, alpha, beta) of daily SAIDI values; zero days are left out of the logarithms."""
    logs = np.log(daily[daily > 0].to_numpy(dtype=float))
    if len(logs) < 2:
        return float("inf"), float("nan"), float("nan")
    alpha, beta = float(logs.mean()), float(logs.std(ddof=1))
    return float(np.exp(alpha + BETA_MULTIPLE * beta)), alpha, beta


def major_event_days(events: pd.DataFrame, customers: int, month: Month) -> MajorEvents:
    """The MEDs from the prepared events of up to five years ending with `month` (network customers served)."""
    first = (month.end - pd.DateOffset(years=HISTORY_YEARS)).tz_localize(None)
    last = month.days()[-1]
    history = events[(events["day"] >= first) & (events["day"] <= last)]
    daily = daily_saidi(history, customers)
    t_med, alpha, beta = threshold(daily)
    return MajorEvents(t_med, alpha, beta, daily[daily > 0], pd.DatetimeIndex(daily.index[daily > t_med]))
