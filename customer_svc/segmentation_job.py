"""One segmentation run: monthly usage summaries (stored, or summarised from hourly usage when
missing or stale) -> features -> promoted model -> segments; recommendations from the last
RECOMMENDATION_DAYS of hourly usage. No gRPC here."""

import datetime as dt
import logging

import numpy as np

from customer_svc import summary_store, weather_store
from customer_svc.billing import Usage
from customer_svc.features import features
from customer_svc.metrics import SEGMENTATION_MONTHS
from customer_svc.model_io import load_promoted
from customer_svc.profiles import DailyProfiles, build_profiles
from customer_svc.recommendations import recommend
from customer_svc.store import CustomerStore
from customer_svc.usage_store import latest_hour, load_usage
from customer_svc.usage_summary import UsageSummary, merge_into, summarise
from customer_svc.weather import local_grid
from meters.errors import failed_precondition

log = logging.getLogger(__name__)
# Tariff comparison and time-shift advice bill four whole weeks: a recent bill, weekdays and weekends alike.
RECOMMENDATION_DAYS = 28
DAY_S = 86400


def window_months(end_unix_s: int, usage_days: int) -> list[dt.date]:
    """First days of the calendar months overlapping the usage_days before end (a UTC midnight):
    a run covers whole months, so each month's stored summary serves every run."""
    first = dt.datetime.fromtimestamp(end_unix_s - usage_days * DAY_S, dt.timezone.utc).date().replace(day=1)
    last = dt.datetime.fromtimestamp(end_unix_s - DAY_S, dt.timezone.utc).date().replace(day=1)
    months = [first]
    while months[-1] < last:
        months.append(_next_month(months[-1]))
    return months


def _unix(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())


def _next_month(m: dt.date) -> dt.date:
    return m.replace(year=m.year + m.month // 12, month=m.month % 12 + 1)


async def _profiles(conn, customers: list[tuple], start_unix_s: int, days: int) -> DailyProfiles:
    """Every customer's local-day profiles for the `days` local days from the local date of start (a UTC
    midnight, the same date on every Australian clock), with the regions' temperatures."""
    # A local day starts 9.5-11 h before the UTC midnight of its date: read from the day before.
    usage = await load_usage(conn, start_unix_s - DAY_S, start_unix_s + days * DAY_S)
    weather = await weather_store.load(conn, start_unix_s - DAY_S, start_unix_s + days * DAY_S)
    meter_customer = {m: i for i, c in enumerate(customers) for m in c[4]}
    index = np.array([meter_customer[m] for m in usage.meter_ids], dtype=np.int64)
    regions = [c[2] for c in customers]
    p = build_profiles(index, usage.hour_start_unix_s, usage.kwh, usage.max_kw, regions, start_unix_s, days)
    names = sorted(set(regions))
    temp = local_grid(names, *weather, start_unix_s, days) if len(weather[0]) else None
    return DailyProfiles(p.kwh, p.max_kw, p.weekend, p.region, p.first_day, temp)


async def month_summary(pool, customers: list[tuple], month: dt.date) -> UsageSummary:
    """The month's summary for `customers` (sorted by id): stored if current, else summarised and stored."""
    ids = np.array([c[0] for c in customers], dtype=np.int64)
    async with pool.connection() as conn:
        await conn.execute("INSERT INTO customers.usage_months (month) VALUES (%s) ON CONFLICT DO NOTHING", [month])
        await conn.commit()
        async with conn.transaction():
            # One snapshot for the version and the usage it covers: usage folded later bumps the version.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur = await conn.execute(
                "SELECT version, summarised_version FROM customers.usage_months WHERE month = %s", [month])
            version, summarised = await cur.fetchone()
            if version == summarised:
                SEGMENTATION_MONTHS.labels("stored").inc()
                return await summary_store.load(conn, month, ids)
            start = _unix(month)
            p = await _profiles(conn, customers, start, (_unix(_next_month(month)) - start) // DAY_S)
        u = summarise(p)
        await summary_store.store(conn, month, version, ids, u)
        SEGMENTATION_MONTHS.labels("summarised").inc()
        log.info("summarised %s for %d customers (version %d)", month, len(ids), version)
        return u


async def run_segmentation(store: CustomerStore, registry, run_id: int, usage_days: int) -> tuple[int, str]:
    """Assign every customer with usage; return (customers assigned, model version)."""
    model, version = load_promoted(registry)
    customers = await store.customers_with_meters()
    async with store.pool.connection() as conn:
        last = await latest_hour(conn)
    if last is None or not customers:
        raise failed_precondition("no usage stored yet", "NO_USAGE")
    end = (last // DAY_S + 1) * DAY_S  # through the end of the latest UTC day
    months = window_months(end, usage_days)
    u = None
    for m in months:  # one month in memory at a time besides the running total
        u = merge_into(u, await month_summary(store.pool, customers, m))
    async with store.pool.connection() as conn:
        recent = await _profiles(conn, customers, end - RECOMMENDATION_DAYS * DAY_S, RECOMMENDATION_DAYS)
    seg, conf = model.predict(features(u))
    keys = model.segment_keys()
    has = u.hours.sum(axis=(1, 2)) > 0
    hourly = u.kwh.sum(axis=1) / np.maximum(u.hours.sum(axis=1), 1)
    rows, recs = [], []
    for i in np.flatnonzero(has):
        cid, _hash, _region, tariff, _meters = customers[i]
        rows.append((cid, keys[seg[i]], float(conf[i]), float(hourly[i].sum())))
        if np.isfinite(recent.kwh[i]).any():
            for r in recommend(Usage(recent.kwh[i], recent.weekend[i]), tariff, keys[seg[i]]):
                recs.append((cid, r))
    weekday = u.kwh[:, 0] / np.maximum(u.hours[:, 0], 1)
    await store.store_assignments(run_id, rows, recs, segment_profiles(weekday, has, seg, keys,
                                                                      [c[2] for c in customers]))
    return len(rows), version


def segment_profiles(weekday_hourly: np.ndarray, has: np.ndarray, seg: np.ndarray, keys,
                     regions: list[str]) -> list[tuple]:
    """(region, segment key, customers, summed mean weekday kWh per local hour) per group."""
    region = np.array(regions, dtype=object)
    out = []
    for r in np.unique(region[has]):
        for s in np.unique(seg[has & (region == r)]):
            members = has & (region == r) & (seg == s)
            out.append((str(r), keys[s], int(members.sum()),
                        weekday_hourly[members].sum(axis=0).astype(float).tolist()))
    return out
