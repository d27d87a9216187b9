"""The open month's usage summary, folded day by day as local days close, so that closing a month
reads one day of hourly usage instead of the whole month's (docs/customers.md, "Folding the open
month").

Every UsageSummary field adds up (or takes the maximum) over days, and a local day's summary is made
of that day's cells alone, so the days' summaries folded one after another are the month's summary
(to float32 rounding). A day is folded once it has ended on every Australian clock, plus
FOLD_LATENESS_S for late readings. Before folding, its days are *sealed* (customers.usage_months
.sealed_days, committed first); from then on whatever changes a sealed day marks what it touches in
its own transaction (summary_store.mark_*_refold): late usage its customers, weather its region, the
registry the customers whose meters or region changed. The next fold re-summarises the marked
customers from hourly usage over the days already folded and splices their rows in; when more than
REFOLD_FULL_SHARE of the fleet is marked it summarises everyone's folded days again instead.

Runs as a background task of the service (`fold_forever`, next to the usage consumer), and from
segmentation_job.month_summary when a month with a running summary closes.
"""

import asyncio
import calendar
import datetime as dt
import logging
import time
from dataclasses import dataclass, fields, replace

import numpy as np

from customer_svc import summary_store, weather_store
from customer_svc.config import JOB_STATEMENT_TIMEOUT_S
from customer_svc.metrics import SUMMARY_DAYS_FOLDED, SUMMARY_FOLD_SECONDS, SUMMARY_REFOLDED_CUSTOMERS
from customer_svc.profiles import build_profiles
from customer_svc.usage_store import latest_hour, load_usage, meter_owners
from customer_svc.usage_summary import UsageSummary, concat_customers, merge_into, summarise
from customer_svc.weather import local_grid
from meters.db import allow_long_statements

log = logging.getLogger(__name__)
DAY_S = 86400
SUMMARY_CHUNK = 50_000  # customers summarised at a time: a month of their hours is ~36 M cells, ~2 GB read
# Australian clocks run 9.5 to 11 hours ahead of UTC: a local day of date D spans these UTC offsets.
MIN_OFFSET_S, MAX_OFFSET_S = min(summary_store.LOCAL_OFFSETS_S), max(summary_store.LOCAL_OFFSETS_S)
FOLD_LATENESS_S = 3600  # a day is folded this long after it ended (later usage is re-summarised, not lost)
REFOLD_FULL_SHARE = 0.2  # more of the fleet marked than this: summarise every customer's folded days again
FOLD_EVERY_S = 600.0


@dataclass(frozen=True)
class Fleet:
    """The customers with a meter, by id (CustomerStore.customers_with_meters), as columns."""

    ids: np.ndarray  # int64, ascending
    regions: list[str]
    tariffs: list[str]
    segments: np.ndarray  # object: the current segment key, '' if none
    ev: np.ndarray  # bool: the customer's record says it charges an EV

    @classmethod
    def of(cls, rows: list[tuple]) -> "Fleet":
        return cls(np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows], [r[2] for r in rows],
                   np.array([r[3] for r in rows], dtype=object), np.array([bool(r[4]) for r in rows], dtype=bool))

    def subset(self, rows: np.ndarray) -> "Fleet":
        """The customers at `rows` (an ascending index)."""
        return Fleet(self.ids[rows], [self.regions[i] for i in rows], [self.tariffs[i] for i in rows],
                     self.segments[rows], self.ev[rows])


def unix(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())


def days_in(month: dt.date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def closed_days(month: dt.date, latest_hour_unix_s: int) -> int:
    """Local days of the month (from its first) that have ended on every Australian clock FOLD_LATENESS_S
    before the latest usage hour starts."""
    ended = (latest_hour_unix_s - FOLD_LATENESS_S + MIN_OFFSET_S - unix(month)) // DAY_S
    return int(min(max(ended, 0), days_in(month)))


async def summarise_days(conn, fleet: Fleet, start_unix_s: int, days: int) -> UsageSummary:
    """Every customer's summary of the `days` local days from the local date of start (a UTC midnight,
    the same date on every Australian clock), with the regions' temperatures; SUMMARY_CHUNK customers
    at a time, so a month of 1.2 M customers (~0.9 billion hourly cells) never sits in memory at once."""
    # The local days start 9.5-11 h before the UTC midnight of their date, and end as much before the
    # UTC midnight after: read those hours (summary_store's refold marks cover the same span).
    lo, hi = start_unix_s - MAX_OFFSET_S, start_unix_s + days * DAY_S - MIN_OFFSET_S
    weather = await weather_store.load(conn, lo, hi)
    meters, owners = await meter_owners(conn)
    parts = []
    for a in range(0, len(fleet.ids), SUMMARY_CHUNK):
        ids = fleet.ids[a:a + SUMMARY_CHUNK]
        mine = np.isin(owners, ids)  # not a customer registered since the fleet was read
        usage = await load_usage(conn, lo, hi, meters[mine])
        owner = owners[mine][np.searchsorted(meters[mine], usage.meter_ids)]
        regions = fleet.regions[a:a + SUMMARY_CHUNK]
        p = build_profiles(np.searchsorted(ids, owner), usage.hour_start_unix_s, usage.kwh, usage.max_kw,
                           regions, start_unix_s, days)
        names = sorted(set(regions))
        temp = local_grid(names, *weather, start_unix_s, days) if len(weather[0]) else None
        parts.append(summarise(replace(p, temp_c=temp)))
    return concat_customers(parts)


def _writable(u: UsageSummary) -> UsageSummary:
    """A copy to fold into: float32 (what the running summary stores) and int32 counts."""
    return UsageSummary(**{f.name: getattr(u, f.name).astype(
        np.float32 if getattr(u, f.name).dtype.kind == "f" else np.int32) for f in fields(UsageSummary)})


@dataclass(frozen=True)
class Folded:
    month: dt.date
    summary: UsageSummary  # the fleet's customers, in its order, over the month's first `days` days
    version: int  # the month's version it summarises
    days: int
    new_days: int  # folded from hourly usage by this call
    refolded: int  # customers whose earlier days were summarised again


async def advance(pool, fleet: Fleet, month: dt.date, through: int) -> Folded:
    """Fold the month's local days up to `through` (1-based, inclusive) into its running summary, after
    re-summarising the marked customers' folded days; store it and return it."""
    start = unix(month)
    key = (month - dt.date(2000, 1, 1)).days
    async with pool.connection() as conn:
        # One folder of a month at a time (the service's replicas each run the fold job).
        await conn.execute("SELECT pg_advisory_lock(hashtext('customers.running_summaries'), %s)", [key])
        try:
            await conn.execute("INSERT INTO customers.usage_months (month) VALUES (%s) ON CONFLICT DO NOTHING",
                               [month])
            # Sealed first, in its own transaction: a change to these days either committed before the
            # snapshot below (and is read by it) or sees the seal and marks what it changed.
            await conn.execute("UPDATE customers.usage_months SET sealed_days = greatest(sealed_days, %s) WHERE month = %s",
                               [through, month])
            await conn.commit()
            async with conn.transaction():
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                await allow_long_statements(conn, JOB_STATEMENT_TIMEOUT_S)
                cur = await conn.execute("SELECT version, folded_days FROM customers.usage_months WHERE month = %s",
                                         [month])
                version, folded = await cur.fetchone()
                folded = min(folded, through)
                cur = await conn.execute("SELECT customer_id FROM customers.refold_customers WHERE month = %s", [month])
                marked = np.array([r[0] for r in await cur.fetchall()], dtype=np.int64)
                cur = await conn.execute("SELECT region FROM customers.refold_regions WHERE month = %s", [month])
                regions = [r[0] for r in await cur.fetchall()]
                redo = np.isin(fleet.ids, marked) | np.isin(np.array(fleet.regions, dtype=object), regions)
                if folded == 0 or redo.sum() > REFOLD_FULL_SHARE * len(fleet.ids):
                    refolded = len(fleet.ids) if folded else 0
                    u = _writable(await summarise_days(conn, fleet, start, through))
                else:
                    refolded = int(redo.sum())
                    u = _writable(await summary_store.load(conn, month, fleet.ids, summary_store.RUNNING))
                    if refolded:
                        rows = np.flatnonzero(redo)
                        again = await summarise_days(conn, fleet.subset(rows), start, folded)
                        for f in fields(UsageSummary):
                            getattr(u, f.name)[rows] = getattr(again, f.name)
                    if through > folded:
                        u = merge_into(u, await summarise_days(conn, fleet, start + folded * DAY_S, through - folded))
            if through == folded and not refolded:
                return Folded(month, u, version, through, 0, 0)  # nothing new (a close after the last fold)
            async with conn.transaction():
                await allow_long_statements(conn, JOB_STATEMENT_TIMEOUT_S)
                await summary_store.write_blocks(conn, summary_store.RUNNING, month, fleet.ids, u)
                await conn.execute("UPDATE customers.usage_months SET folded_days = %s WHERE month = %s",
                                   [through, month])
                # Marks made after the snapshot carry a later version: they stay for the next fold.
                for table in ("refold_customers", "refold_regions"):
                    await conn.execute(f"DELETE FROM customers.{table} WHERE month = %s AND version <= %s",
                                       [month, version])
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext('customers.running_summaries'), %s)", [key])
            await conn.commit()
    return Folded(month, u, version, through, through - folded, refolded)


async def fold_due(pool, fleet: Fleet, latest_hour_unix_s: int) -> list[Folded]:
    """Fold the closed days of the open month, and of the month before if it has a running summary still
    short of its end (its last days close after the UTC month turns); drop older running summaries."""
    this = dt.datetime.fromtimestamp(latest_hour_unix_s, dt.timezone.utc).date().replace(day=1)
    before = (this - dt.timedelta(days=1)).replace(day=1)
    done = []
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT month, folded_days FROM customers.usage_months WHERE month IN (%s, %s)",
                                 [before, this])
        folded = dict(await cur.fetchall())
        # Older months are closed and stored; their late changes are summarised from hourly usage again.
        await conn.execute("DELETE FROM customers.running_summaries WHERE month < %s", [before])
        await conn.execute("UPDATE customers.usage_months SET sealed_days = 0, folded_days = 0"
                           " WHERE month < %s AND sealed_days > 0", [before])
        for table in ("refold_customers", "refold_regions"):
            await conn.execute(f"DELETE FROM customers.{table} WHERE month < %s", [before])
        await conn.commit()
    for month in (before, this):
        through, have = closed_days(month, latest_hour_unix_s), folded.get(month, 0)
        if through > have and (month == this or have > 0):
            t0 = time.perf_counter()
            f = await advance(pool, fleet, month, through)
            SUMMARY_DAYS_FOLDED.inc(f.new_days)
            SUMMARY_REFOLDED_CUSTOMERS.inc(f.refolded)
            SUMMARY_FOLD_SECONDS.observe(time.perf_counter() - t0)
            log.info("folded days %d-%d of %s into its running summary for %d customers (%d summarised again)",
                     f.days - f.new_days + 1, f.days, month, len(fleet.ids), f.refolded)
            done.append(f)
    return done


async def fold_forever(pool, customers_with_meters, every_s: float = FOLD_EVERY_S) -> None:
    """The service's fold job: every `every_s`, fold the days that have closed."""
    while True:
        try:
            fleet = Fleet.of(await customers_with_meters())
            async with pool.connection() as conn:
                last = await latest_hour(conn)
            if last is not None and len(fleet.ids):
                await fold_due(pool, fleet, last)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("folding the open month's usage summary failed; retried at the next interval")
        await asyncio.sleep(every_s)
