"""One segmentation run: the window's monthly usage summaries (stored, or summarised from hourly usage
when missing or stale) -> features -> promoted model -> segments; recommendations from the window's
latest month's summary. No gRPC here."""

import datetime as dt
import logging

import numpy as np

from customer_svc import summary_store
from customer_svc.config import JOB_STATEMENT_TIMEOUT_S
from customer_svc.features import features
from customer_svc.metrics import SEGMENTATION_MONTHS
from customer_svc.model_io import load_promoted
from customer_svc.recommendations import Recommendations, recommend, recommendation_basis
from customer_svc.store import Assignments, CustomerStore
from customer_svc.month_fold import Fleet, advance, days_in, summarise_days, unix
from customer_svc.usage_store import latest_hour
from customer_svc.usage_summary import UsageSummary, customers_of, merge_into
from meters.audit import Change
from meters.db import allow_long_statements
from meters.errors import failed_precondition

log = logging.getLogger(__name__)
DAY_S = 86400


def window_months(latest_hour_unix_s: int, usage_days: int) -> list[dt.date]:
    """First days of the calendar months a run segments over: of the months overlapping the usage_days
    before the end of the latest usage's UTC day, those that are complete (the latest usage hour starts
    after the month's end on every Australian clock). A run covers whole months, so each month's stored
    summary serves every run; a complete month is summarised from hourly usage once, and again only when
    late usage changes it, so a steady-state run reads stored summaries only. Only a window without a
    complete month (shorter than the month so far) is the open month, which new usage keeps changing.
    """
    end = (latest_hour_unix_s // DAY_S + 1) * DAY_S  # through the end of the latest UTC day
    months = [_utc_month(end - usage_days * DAY_S)]
    while months[-1] < open_month(latest_hour_unix_s):
        months.append(summary_store.next_month(months[-1]))
    return [m for m in months if _complete(m, latest_hour_unix_s)] or months[-1:]


def open_month(latest_hour_unix_s: int) -> dt.date:
    """The month of the latest usage (its UTC date's)."""
    return _utc_month(latest_hour_unix_s)


def _complete(month: dt.date, latest_hour_unix_s: int) -> bool:
    # The month ends last on the clock least ahead of UTC.
    return latest_hour_unix_s + min(summary_store.LOCAL_OFFSETS_S) >= unix(summary_store.next_month(month))


def _utc_month(unix_s: int) -> dt.date:
    return dt.datetime.fromtimestamp(unix_s, dt.timezone.utc).date().replace(day=1)


async def month_summary(pool, fleet: Fleet, month: dt.date, complete: bool = False) -> tuple[UsageSummary, int]:
    """The month's summary for the fleet's customers, stored if current, else made and stored; and the
    month's version it summarises. A complete month with a running summary (month_fold.py) is finished
    from it: its remaining days folded and its marked customers summarised again, not the whole month
    from hourly usage."""
    ids = fleet.ids
    async with pool.connection() as conn:
        await conn.execute("INSERT INTO customers.usage_months (month) VALUES (%s) ON CONFLICT DO NOTHING", [month])
        await conn.commit()
        async with conn.transaction():
            # One snapshot for the version and the usage it covers: usage folded later bumps the version.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            await allow_long_statements(conn, JOB_STATEMENT_TIMEOUT_S)
            cur = await conn.execute(
                "SELECT version, summarised_version, folded_days FROM customers.usage_months WHERE month = %s", [month])
            version, summarised, folded = await cur.fetchone()
            if version == summarised:
                SEGMENTATION_MONTHS.labels("stored").inc()
                return await summary_store.load(conn, month, ids), version
            if not (complete and folded):
                u = await summarise_days(conn, fleet, unix(month), days_in(month))
        if complete and folded:
            f = await advance(pool, fleet, month, days_in(month))
            u, version = f.summary, f.version
            source = "folded"
            log.info("closed %s from its running summary for %d customers (%d days folded now, %d customers"
                     " summarised again; version %d)", month, len(ids), f.new_days, f.refolded, version)
        else:
            source = "summarised"
            log.info("summarised %s for %d customers (version %d)", month, len(ids), version)
        await summary_store.store(conn, month, version, ids, u)
        SEGMENTATION_MONTHS.labels(source).inc()
        return u, version


async def run_segmentation(store: CustomerStore, registry, run_id: int, usage_days: int,
                           audit: Change | None = None) -> tuple[int, str]:
    """Assign every customer with usage; return (customers assigned, model version). `audit`: the
    change that started the run (RunSegmentation), whose actor records the stored results."""
    model, version = load_promoted(registry)
    fleet = Fleet.of(await store.customers_with_meters())
    async with store.pool.connection() as conn:
        last = await latest_hour(conn)
    if last is None or not len(fleet.ids):
        raise failed_precondition("no usage stored yet", "NO_USAGE")
    months = window_months(last, usage_days)
    u, latest, latest_version = await _merged(store.pool, fleet, months, last)
    if not u.has_usage().any() and months[-1] != open_month(last):
        # A fleet younger than the window's complete months: its usage is all in the open month.
        months = [open_month(last)]
        u, latest, latest_version = await _merged(store.pool, fleet, months, last)
    seg, conf = model.predict(features(u))
    keys = model.segment_keys()
    basis = recommendation_basis(months[-1], latest_version)
    renew = customers_to_renew(basis, await store.last_recommendation_basis(), np.array(keys, dtype=object)[seg],
                               fleet.segments)
    assigned, recs = run_results(u, latest, months[-1], seg, conf, keys, fleet.ids, fleet.tariffs, renew, fleet.ev)
    await store.store_assignments(run_id, assigned, recs, basis, segment_profiles(
        u.weekday_means(), u.has_usage(), seg, keys, fleet.regions), audit)
    return len(assigned), version


def customers_to_renew(basis: str, previous_basis: str | None, segments: np.ndarray,
                       previous_segments: np.ndarray) -> np.ndarray:
    """(c,) bool: the customers whose pending recommendations a run replaces. Everyone when the basis
    moved (another month or summary version, other tariffs or rules); else only those whose segment
    changed (the demand-response offer follows the segment), since the rest would get the same ones."""
    if basis != previous_basis:
        return np.ones(len(segments), dtype=bool)
    return segments != previous_segments


def run_results(u: UsageSummary, latest: UsageSummary, latest_month: dt.date, seg: np.ndarray, conf: np.ndarray,
                keys: tuple[str, ...], ids: np.ndarray, tariffs: list[str],
                renew: np.ndarray, ev: np.ndarray | None = None) -> tuple[Assignments, Recommendations]:
    """What a run stores: the segment of every customer with usage in the window (u), and recommendations
    from the window's latest month (latest) for those of them it renews."""
    has = u.has_usage()
    assigned = Assignments(ids[has], seg[has], conf[has], u.hourly_means()[has].sum(axis=1), keys, renew[has])
    rows = np.flatnonzero(has & renew)
    billed = latest if len(rows) == len(latest) else customers_of(latest, rows)
    recs = recommend(billed, ids[rows], np.array(tariffs, dtype=object)[rows], np.array(keys, dtype=object)[seg[rows]],
                     latest_month.strftime("%B %Y"), None if ev is None else ev[rows])
    return assigned, recs


async def _merged(pool, fleet: Fleet, months: list[dt.date], last: int) -> tuple[UsageSummary, UsageSummary, int]:
    """The months' summaries merged, and the last month's own (what recommendations bill) and version."""
    total = part = version = None
    for m in months:  # one month in memory at a time besides the running total
        part, version = await month_summary(pool, fleet, m, _complete(m, last))
        total = merge_into(total, part)
    return total, part, version


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
