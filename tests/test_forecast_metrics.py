"""forecast_svc.metrics: forecast error and demand gauges from the stored runs and actuals, and the
stored run's level factor; exposition clean for `promtool check metrics`."""

import asyncio
import datetime as dt
import subprocess

import pandas as pd
import pytest
from prometheus_client import REGISTRY, generate_latest

from forecast_svc import metrics
from forecast_svc.server import MIGRATIONS
from forecast_svc.store import ForecastStore, Point, Run
from meters.db import migrate, open_pool

T0 = dt.datetime(2026, 3, 10, tzinfo=dt.timezone.utc)
STEP = dt.timedelta(minutes=15)


def value(name: str, **labels) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_figures_newest_run_per_step_and_lead_day():
    t1, t2 = pd.Timestamp(T0 + STEP), pd.Timestamp(T0 + 2 * STEP)
    rows = pd.DataFrame([
        ("", t1, 1, 1, 90.0, 100.0),  # superseded by run 2 (same step, same lead day)
        ("", t1, 2, 1, 110.0, 100.0),
        ("", t2, 2, 1, 100.0, 100.0),
        ("", t2, 3, 2, 50.0, 100.0),  # a two-day-ahead run
    ], columns=metrics.COLUMNS)
    errors, demand = metrics.figures(rows)
    assert errors == {"day_ahead": pytest.approx(5.0), "two_days_ahead": pytest.approx(50.0)}
    assert demand == (50.0, 100.0)  # the newest run at the latest step
    regions = pd.DataFrame([("NSW", t2, 4, 1, 30.0, 33.0), ("VIC", t2, 5, 1, 20.0, 22.0),
                            ("VIC", t1, 5, 1, 20.0, 20.0)], columns=metrics.COLUMNS)
    assert metrics.figures(regions)[1] == (50.0, 55.0)
    assert metrics.figures(rows.iloc[:0]) == ({}, None)


@pytest.mark.infra
def test_gauges_from_stored_runs_and_actuals(fresh_db):
    """A network run 10 % high against 24 h of actuals; a region run without actuals; older steps
    outside the window do not count."""
    migrate(fresh_db, MIGRATIONS)

    async def scenario():
        pool = await open_pool(fresh_db)
        store = ForecastStore(pool)
        steps = [T0 + i * STEP for i in range(1, 193)]  # 48 h
        async with pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany("INSERT INTO forecast.demand_actuals VALUES (1, '', %s, %s, 1)",
                                  [(t, 2.0 if i < 96 else 1.0) for i, t in enumerate(steps)])
        run = Run(0, "network", "", T0, 72, 0.9, "v (level x 0.01 from 672 measured steps)", T0,
                  [Point(t, 1.1, 1.0, 1.2) for t in steps] + [Point(steps[-1] + (i + 1) * STEP, 1.1, 1.0, 1.2)
                                                           for i in range(96)], level_scale=0.01)
        await store.save_run(run)
        await store.save_run(Run(0, "region", "NSW", T0, 24, 0.9, "v", T0,
                                 [Point(t, 5.0, 4.0, 6.0) for t in steps[:96]]))
        await metrics.refresh(store)
        stored = await store.get_run(run.id)
        await pool.close()
        return stored

    stored = asyncio.run(scenario())
    assert stored.level_scale == 0.01
    # The window is the last 24 h of measured steps (lead day 2 of the run): 1.1 vs 1.0.
    assert value("meters_forecast_abs_pct_error", scope="network", horizon="two_days_ahead") == pytest.approx(10.0)
    assert value("meters_forecast_abs_pct_error", scope="network", horizon="day_ahead") is None
    assert value("meters_forecast_demand_mw", scope="network", kind="forecast") == pytest.approx(1.1)
    assert value("meters_forecast_demand_mw", scope="network", kind="actual") == pytest.approx(1.0)
    assert value("meters_forecast_abs_pct_error", scope="region", horizon="day_ahead") is None
    assert value("meters_forecast_demand_mw", scope="region", kind="actual") is None
    assert value("meters_forecast_metrics_refreshed_timestamp_seconds") > 0


def test_promtool_check_metrics(promtool_installed):
    metrics.publish("network", {"day_ahead": 3.2}, (1.0, 1.1))
    exposition = b"".join(line + b"\n" for line in generate_latest().splitlines()
                          if b"meters_forecast_" in line)
    done = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert b'meters_forecast_abs_pct_error{horizon="day_ahead",scope="network"} 3.2' in exposition
