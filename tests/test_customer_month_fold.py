"""The open month's running summary on real PostgreSQL (customer_svc/month_fold.py): April 2026 (the
south-eastern clocks leave daylight saving on the 5th, a 25-hour local day) streamed day by day into
hourly usage through the usage consumer's write path, folded by the fold job as its local days close,
with late usage for an already folded day, a weather correction and a meter moving between customers
on folded days, and a customer registered mid-month; the month closed from its running summary equals
the month summarised again from every hourly cell."""

import asyncio
import datetime as dt
from dataclasses import fields

import numpy as np
import pytest

from customer_svc import summary_store, weather_store
from customer_svc.hourly import HourlyUsage
from customer_svc.metrics import SEGMENTATION_MONTHS
from customer_svc.month_fold import DAY_S, Fleet, fold_due, summarise_days, unix
from customer_svc.segmentation_job import month_summary
from customer_svc.server import MIGRATIONS
from customer_svc.store import CustomerStore
from customer_svc.usage_store import latest_hour, record_usage
from meters.audit import Actor, Change
from meters.db import migrate, open_pool

pytestmark = pytest.mark.infra

APRIL = dt.date(2026, 4, 1)
REGIONS = ("NSW", "QLD", "SA", "VIC", "TAS")
PER_REGION = 6
FIRST_UTC_DAY = unix(APRIL) - 2 * DAY_S  # from 30 March: the local days of April start on 31 March UTC
LAST_UTC_DAY = unix(dt.date(2026, 5, 2))
TESTER = Actor.system("test")
LATE_DAY = dt.date(2026, 4, 3)  # its cells for LATE_METERS arrive after 12 April has been folded
LATE_METERS = (1, 7, 20)
WEATHER_FIXED_DAY = dt.date(2026, 4, 5)  # SA's temperatures corrected after 16 April (the DST day)
MOVED_METER, NEW_OWNER = 17, "c-2"  # meter 17 (customer c-12's second) moves to c-2 after 20 April
NEW_METER = 99  # a customer registered on 21 April on a new meter


def _customers() -> list[dict]:
    rows, meter = [], 1
    for i in range(len(REGIONS) * PER_REGION):
        meters = [meter, meter + 1] if i % 4 == 0 else [meter]
        meter += len(meters)
        rows.append({"customer_hash": f"c-{i}", "tariff_type": "flat", "solar_installed": False, "ev_charging": False,
                     "demand_response_opted_in": False, "region": REGIONS[i % len(REGIONS)], "meter_ids": meters})
    return rows


def _cells(meters: np.ndarray, seed: int) -> HourlyUsage:
    """Every hour of the streamed days for `meters`, ~4 % of them missing (gaps)."""
    rng = np.random.default_rng(seed)
    hours = np.arange(FIRST_UTC_DAY, LAST_UTC_DAY, 3600, dtype=np.int64)
    m, h = np.repeat(meters, len(hours)), np.tile(hours, len(meters))
    keep = rng.random(len(m)) > 0.04
    n = int(keep.sum())
    kwh = rng.lognormal(-0.7, 0.8, n)
    return HourlyUsage(m[keep], h[keep], kwh, kwh * rng.uniform(1.2, 3.0, n), np.full(n, 0b111, dtype=np.int32))


def _rows(u: HourlyUsage, rows: np.ndarray) -> HourlyUsage:
    return HourlyUsage(*(getattr(u, f)[rows] for f in ("meter_ids", "hour_start_unix_s", "kwh", "max_kw", "slots")))


def _temperatures(hours: np.ndarray, region: int, shift: float = 0.0) -> np.ndarray:
    return 17.0 + 9.0 * np.sin(2 * np.pi * (hours / 3600 % 24 - 4) / 24) + region + shift


async def _record_usage(pool, usage: HourlyUsage) -> None:
    if len(usage):
        async with pool.connection() as conn, conn.transaction():
            await record_usage(conn, usage)


async def _record_weather(pool, hours: np.ndarray, regions=REGIONS, shift: float = 0.0) -> None:
    names = [r for r in regions for _ in hours]
    temps = np.concatenate([_temperatures(hours, REGIONS.index(r), shift) for r in regions])
    await weather_store.record(pool, names, [int(h) for h in np.tile(hours, len(regions))], temps.round(1).tolist(),
                               Change("regionalWeather", "record", actor=TESTER, method="test"))


def _local_day_hours(day: dt.date) -> np.ndarray:
    """UTC hours that may fall in the local date `day` somewhere in Australia."""
    return np.arange(unix(day) - 11 * 3600, unix(day) + DAY_S - 9 * 3600, 3600, dtype=np.int64)


async def _stream_april(dsn: str) -> tuple[Fleet, dict]:
    """Stream the days, fold as they close, close April; return the fleet and what happened."""
    pool = await open_pool(dsn)
    store = CustomerStore(pool)
    seen = {"folds": []}
    try:
        customers = _customers()
        await store.upsert_customers(customers, Change("customers", "batch_create", actor=TESTER, method="test"))
        usage = _cells(np.array([m for c in customers for m in c["meter_ids"]]), seed=4)
        late = np.isin(usage.meter_ids, LATE_METERS) & np.isin(usage.hour_start_unix_s, _local_day_hours(LATE_DAY))
        withheld, usage = _rows(usage, np.flatnonzero(late)), _rows(usage, np.flatnonzero(~late))
        # One late reading adds a 5-minute slot not yet counted to a cell already folded.
        topped = np.flatnonzero((usage.meter_ids == 3) & (usage.hour_start_unix_s == unix(LATE_DAY) + 2 * 3600))
        topped_up = HourlyUsage(usage.meter_ids[topped], usage.hour_start_unix_s[topped], np.full(len(topped), 0.75),
                                np.full(len(topped), 9.0), np.full(len(topped), 1 << 5, dtype=np.int32))
        new_usage = _cells(np.array([NEW_METER]), seed=5)
        for day in range(FIRST_UTC_DAY, LAST_UTC_DAY, DAY_S):
            date = dt.datetime.fromtimestamp(day, dt.timezone.utc).date()
            today = (usage.hour_start_unix_s >= day) & (usage.hour_start_unix_s < day + DAY_S)
            await _record_usage(pool, _rows(usage, np.flatnonzero(today)))
            await _record_weather(pool, np.arange(day, day + DAY_S, 3600, dtype=np.int64))
            if date == dt.date(2026, 4, 12):
                await _record_usage(pool, withheld)
                await _record_usage(pool, topped_up)
                async with pool.connection() as conn:
                    cur = await conn.execute("SELECT count(*) FROM customers.refold_customers WHERE month = %s", [APRIL])
                    seen["marked_after_late_usage"] = (await cur.fetchone())[0]
            if date == dt.date(2026, 4, 16):
                await _record_weather(pool, _local_day_hours(WEATHER_FIXED_DAY), ("SA",), shift=6.0)
            if date == dt.date(2026, 4, 20):
                moved = next(dict(c, meter_ids=c["meter_ids"] + [MOVED_METER]) for c in customers
                             if c["customer_hash"] == NEW_OWNER)
                await store.upsert_customers([moved], Change("customers", "batch_create", actor=TESTER, method="test"))
            if date == dt.date(2026, 4, 21):
                await store.upsert_customers([dict(customers[0], customer_hash="c-new", meter_ids=[NEW_METER])],
                                             Change("customers", "batch_create", actor=TESTER, method="test"))
            if date >= dt.date(2026, 4, 21):
                mine = (new_usage.hour_start_unix_s >= day) & (new_usage.hour_start_unix_s < day + DAY_S)
                await _record_usage(pool, _rows(new_usage, np.flatnonzero(mine)))
            fleet = Fleet.of(await store.customers_with_meters())
            async with pool.connection() as conn:
                last = await latest_hour(conn)
            seen["folds"] += [f for f in await fold_due(pool, fleet, last) if f.month == APRIL]
        # Late usage after the last fold, before the month is closed: the close must take it too.
        await _record_usage(pool, HourlyUsage(np.array([5]), np.array([unix(dt.date(2026, 4, 29)) + 3 * 3600]),
                                              np.array([0.5]), np.array([2.0]), np.array([1 << 9], dtype=np.int32)))
        fleet = Fleet.of(await store.customers_with_meters())
        closed_before = SEGMENTATION_MONTHS.labels("folded")._value.get()
        closed, version = await month_summary(pool, fleet, APRIL, complete=True)
        seen["closed_from_running"] = SEGMENTATION_MONTHS.labels("folded")._value.get() - closed_before
        async with pool.connection() as conn:
            seen["stored"] = await summary_store.load(conn, APRIL, fleet.ids)
            seen["full"] = await summarise_days(conn, fleet, unix(APRIL), 30)
            cur = await conn.execute("SELECT version, summarised_version, folded_days FROM customers.usage_months"
                                     " WHERE month = %s", [APRIL])
            seen["month_row"] = await cur.fetchone()
        seen["closed"], seen["version"] = closed, version
        return fleet, seen
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def april(local_stack):
    import psycopg
    import uuid

    name = f"test_fold_{uuid.uuid4().hex[:8]}"
    admin = local_stack.postgres.dsn_for("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = local_stack.postgres.dsn_for(name)
    migrate(dsn, MIGRATIONS)
    yield asyncio.run(_stream_april(dsn))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_month_was_folded_day_by_day_and_closed_from_its_running_summary(april):
    fleet, seen = april
    folds = seen["folds"]
    assert sum(f.new_days for f in folds) == 30  # each local day of April folded once by the fold job
    assert len(folds) >= 29 and max(f.new_days for f in folds) <= 2  # as the days closed, not at the end
    # late usage, weather and the registry each marked customers, re-summarised without the whole fleet
    assert seen["marked_after_late_usage"] >= len(LATE_METERS)
    refolded = [f.refolded for f in folds if f.refolded]
    assert len(refolded) >= 3 and max(refolded) < len(fleet.ids)
    assert seen["closed_from_running"] == 1
    version, summarised, folded_days = seen["month_row"]
    assert summarised == version == seen["version"] and folded_days == 30
    assert len(fleet.ids) == len(_customers()) + 1  # the customer registered mid-month is in it


# Tolerances from what the two sides are: the closed summary was folded in float32 days (stored
# float32 between folds), the full one sums the month's float32 cells at once; 30 days of float32
# additions differ by < 30 x 6e-8. Counts, histograms and maxima are exact either way.
FLOAT32_RTOL = 1e-5
# The stored record keeps the temperature slope's terms in half precision (summary_store.LAYOUT):
# both sides round to the nearest half-precision value, so they may differ by one step, 2^-10 of the
# value (plus the float32 difference above).
HALF_RTOL = 2 ** -10 + FLOAT32_RTOL
HALF = {name for name, t, _ in summary_store.LAYOUT if t == "<f2"}


def _assert_same(got, want, half: bool) -> None:
    for f in fields(want):
        a, b = getattr(got, f.name), getattr(want, f.name)
        if a.dtype.kind in "iu":
            np.testing.assert_array_equal(a, b, err_msg=f.name)
        elif f.name in ("max_kwh", "max_kw", "weekday_max_kwh"):
            np.testing.assert_array_equal(a, b.astype(np.float32), err_msg=f.name)
        else:
            rtol = HALF_RTOL if half and f.name in HALF else FLOAT32_RTOL
            np.testing.assert_allclose(a, b, rtol=rtol, atol=0, err_msg=f.name)


def test_the_month_closed_incrementally_equals_a_full_recompute(april):
    _fleet, seen = april
    _assert_same(seen["closed"], seen["full"], half=False)


def test_the_stored_month_equals_the_full_recompute_stored(april):
    fleet, seen = april
    full_stored = summary_store.from_bytes(summary_store.to_bytes(seen["full"]), len(fleet.ids))
    _assert_same(seen["stored"], full_stored, half=True)

