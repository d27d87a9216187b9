"""Per-customer usage statistics that add up over days: what segmentation features are made of.

A year of hourly profiles for 1.2 M customers is 10.5 billion cells; the same customers' monthly
summaries are 12 small records each. Every feature (`features.py`) is computed from a summary, and
summaries of disjoint sets of days merge by addition (counts, sums, sums of products, histograms)
or maximum, so a month is summarised once and a year's run merges twelve of them. The offline
paths (training, evaluation, the bench) go through the same functions by splitting their profiles
into calendar months.

Two figures need a threshold or quantile relative to the window's level: the midday near-zero
share (PV) and the spread of late-evening energy (EV bursts). Their summaries are histograms in
absolute kWh (log-spaced bins), so they add up like the rest and the window's level is applied when
features are computed. Every field therefore adds up day by day.
"""

from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import reduce

import numpy as np

from customer_svc.profiles import DailyProfiles
from meters.fleet.segments import SEGMENTS

MIDDAY = slice(10, 15)
LATE = slice(20, 24)
DARK_RANGES = ((0, 8), (17, 24))
DARK_HOURS = np.r_[tuple(slice(a, b) for a, b in DARK_RANGES)]
# Histogram bins in kWh, log-spaced (22-26 % wide) from a bin of ~zero reads up: midday hours
# (PV reads ~0) and late-evening energy per day (20:00-24:00; EV charging adds 5-20 kWh).
MIDDAY_EDGES = np.r_[0.0, np.geomspace(5e-4, 50.0, 50)]
LATE_EDGES = np.r_[0.0, np.geomspace(4e-3, 400.0, 60)]
# Degree-hours weighted like the most weather-sensitive segment's heating/cooling (a matched filter).
_SEASONAL = next(s for s in SEGMENTS if s.key == "seasonal_variation_heavy")


def degree_hours(temp_c: np.ndarray) -> np.ndarray:
    """Weighted heating (below 18 degC) plus cooling (above 24 degC) degrees; NaN stays NaN."""
    t = temp_c.astype(np.float64)
    return _SEASONAL.cooling_per_deg * np.maximum(t - 24.0, 0) + _SEASONAL.heating_per_deg * np.maximum(18.0 - t, 0)


@dataclass(frozen=True)
class UsageSummary:
    """Statistics per customer; axis 1 of the (c, 2, 24) arrays is weekday / weekend, axis 2 local hour."""

    kwh: np.ndarray  # (c, 2, 24) summed energy
    hours: np.ndarray  # (c, 2, 24) hours with data
    # The temperature slope's regression terms over the hours with both data and weather;
    # x = the region's degree-hours.
    hours_weathered: np.ndarray  # (c, 2, 24) count
    kwh_weathered: np.ndarray  # (c, 2, 24) sum of energy
    kwh_x: np.ndarray  # (c, 2, 24) sum of energy x x
    x_sum: np.ndarray  # (c, 2, 24) sum of x
    x_sq: np.ndarray  # (c, 2, 24) sum of x squared
    dark_sq: np.ndarray  # (c,) summed squared energy of the dark hours (PV cannot touch them)
    max_kwh: np.ndarray  # (c,) largest hourly energy
    max_kw: np.ndarray  # (c,) largest interval demand
    weekday_max_kwh: np.ndarray  # (c, 24) largest weekday energy per local hour (demand tariffs bill it)
    midday_hist: np.ndarray  # (c, len(MIDDAY_EDGES)) midday hours (10:00-15:00) with data, by kWh
    late_hist: np.ndarray  # (c, len(LATE_EDGES)) days with late-evening data, by 20:00-24:00 kWh

    def __len__(self) -> int:
        return len(self.kwh)

    def has_usage(self) -> np.ndarray:
        """(c,) bool: customers with at least one hour of data."""
        return self.hours.sum(axis=(1, 2)) > 0

    def hourly_means(self) -> np.ndarray:
        """(c, 24) mean kWh per local hour over the hours with data, any day."""
        return self.kwh.sum(axis=1) / np.maximum(self.hours.sum(axis=1), 1)

    def weekday_means(self) -> np.ndarray:
        """(c, 24) mean weekday kWh per local hour over the hours with data."""
        return self.kwh[:, 0] / np.maximum(self.hours[:, 0], 1)


_MAX_FIELDS = ("max_kwh", "max_kw", "weekday_max_kwh")


def merge(parts: Iterable[UsageSummary]) -> UsageSummary:
    """The summary of the union of the parts' (disjoint) days, for the same customers in the same
    order. Parts may be a generator: only the running total and one part are held at a time."""
    return reduce(merge_into, parts, None)


def merge_into(total: UsageSummary | None, part: UsageSummary) -> UsageSummary:
    """total + part, in total's arrays (float64 sums, int32 counts; a copy of part when total is None)."""
    if total is None:
        return UsageSummary(**{f.name: getattr(part, f.name).astype(
            np.float64 if getattr(part, f.name).dtype.kind == "f" else np.int32) for f in fields(UsageSummary)})
    for f in fields(UsageSummary):
        into = getattr(total, f.name)
        (np.maximum if f.name in _MAX_FIELDS else np.add)(into, getattr(part, f.name), out=into, casting="unsafe")
    return total


def _day_sums(values: np.ndarray, day_weight: np.ndarray) -> np.ndarray:
    """(c, d, 24) x (c, d) -> (c, 24): per-hour sums over the days selected by day_weight (0/1)."""
    return np.matmul(day_weight[:, None, :], values)[:, 0, :]


def summarise(p: DailyProfiles) -> UsageSummary:
    """One summary of all the days in `p` (NaN hours have no data).

    Plain sums and batched matmuls over one zero-filled copy and a validity mask: several times
    faster than NaN-aware reductions over (customers, days, 24).
    """
    kwh = p.kwh.astype(np.float32, copy=False)
    missing = np.isnan(kwh)
    k0 = np.where(missing, np.float32(0), kwh)
    valid = (~missing).astype(np.float32)
    weekend = np.broadcast_to(p.weekend, kwh.shape[:2]).astype(np.float32)
    day_types = (1.0 - weekend, weekend)
    sums = np.stack([_day_sums(k0, w) for w in day_types], axis=1)
    hours = np.stack([_day_sums(valid, w) for w in day_types], axis=1)
    dark_views = [k0[:, :, a:b] for a, b in DARK_RANGES]  # views, no copies
    late_days = valid[:, :, LATE].any(axis=2)
    return UsageSummary(
        kwh=sums.astype(np.float64), hours=hours.astype(np.int32), **_weather_sums(p, k0, valid, day_types),
        dark_sq=sum(np.einsum("cdh,cdh->c", k, k) for k in dark_views).astype(np.float64),
        max_kwh=k0.max(axis=(1, 2)).astype(np.float64), max_kw=p.max_kw.astype(np.float64),
        weekday_max_kwh=k0.max(axis=1, where=weekend[:, :, None] == 0, initial=0).astype(np.float64),
        midday_hist=_histogram(k0[:, :, MIDDAY], ~missing[:, :, MIDDAY], MIDDAY_EDGES),
        late_hist=_histogram(k0[:, :, LATE].sum(axis=2), late_days, LATE_EDGES))


def _histogram(values: np.ndarray, keep: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(c, len(edges)) counts per customer (axis 0) of `values` where `keep`, in bins [edges[i], edges[i+1])."""
    n = len(edges)
    bins = np.searchsorted(edges, values, side="right") - 1 + n * np.arange(len(values)).reshape(
        (-1,) + (1,) * (values.ndim - 1))
    return np.bincount(bins[keep], minlength=len(values) * n).reshape(len(values), n).astype(np.int32)


def _weather_sums(p: DailyProfiles, k0: np.ndarray, valid: np.ndarray, day_types) -> dict[str, np.ndarray]:
    """The (c, 2, 24) regression terms of UsageSummary (zeros without weather)."""
    out = {name: np.zeros((len(k0), 2, 24)) for name in _WEATHER_FIELDS}
    if p.temp_c is None:
        return out
    regions = np.unique(p.region)
    for r in regions:
        members = np.flatnonzero(p.region == r)
        k, v = (k0, valid) if len(regions) == 1 else (k0[members], valid[members])  # one region: no copy
        x = degree_hours(p.temp_c[r])
        known = ~np.isnan(x)
        x0 = np.where(known, x, 0.0).astype(np.float32)
        for t, w in enumerate(day_types):
            on = (known * w[members[0]][:, None]).astype(np.float32)  # (d, 24): this day type, weather known
            for name, data, weight in (("hours_weathered", v, on), ("kwh_weathered", k, on), ("kwh_x", k, on * x0),
                                       ("x_sum", v, on * x0), ("x_sq", v, on * x0 * x0)):
                out[name][members, t] = np.einsum("cdh,dh->ch", data, weight)
    return out


_WEATHER_FIELDS = ("hours_weathered", "kwh_weathered", "kwh_x", "x_sum", "x_sq")


def summarise_by_month(p: DailyProfiles) -> UsageSummary:
    """Summaries of each calendar month of `p` (from its first_day; 31-day blocks without one),
    merged: the same features as a service run over monthly summaries of the same days."""
    days = p.kwh.shape[1]
    if p.first_day:
        dates = np.datetime64(p.first_day, "D") + np.arange(days)
        month = dates.astype("datetime64[M]")
        cuts = np.flatnonzero(month[1:] != month[:-1]) + 1
    else:
        cuts = np.arange(31, days, 31)
    bounds = np.r_[0, cuts, days]
    return merge([summarise(days_of(p, a, b)) for a, b in zip(bounds[:-1], bounds[1:])])


def concat_customers(parts: list[UsageSummary]) -> UsageSummary:
    """One summary of the parts' customers, in order (the same days for all)."""
    return UsageSummary(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(UsageSummary)})


def customers_of(u: UsageSummary, rows: np.ndarray) -> UsageSummary:
    """The summaries of some customers (an index or a mask over u's rows)."""
    return UsageSummary(**{f.name: getattr(u, f.name)[rows] for f in fields(UsageSummary)})


def days_of(p: DailyProfiles, a: int, b: int) -> DailyProfiles:
    """Days [a, b) of p."""
    weekend = p.weekend[..., a:b]
    temp = None if p.temp_c is None else p.temp_c[:, a:b]
    return DailyProfiles(p.kwh[:, a:b], p.max_kw, weekend, p.region, "", temp)
