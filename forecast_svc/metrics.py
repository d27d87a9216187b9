"""forecast_svc's Prometheus metrics (docs/metrics.md): how far the stored forecasts are from the
measured demand, for the `MetersForecastErrorHigh` rule and the Demand Forecast dashboard.

Network and region scopes only (regions pooled under scope="region"): substations and transformers
would be tens of thousands of series. Refreshed from the `forecast` schema after actuals are written
(at most every MIN_GAP_S) and every INTERVAL_S.

The window is the 24 h of steps ending at the scope's latest measured step (not the wall clock), so a
replayed or delayed stream is scored the same way as a live one. When a step was forecast by several
runs at the same lead day (refreshes), the newest run counts: what was last served for it.
"""

import asyncio
import logging
import time

import pandas as pd
from prometheus_client import Gauge

from forecast_svc.accuracy import mape_percent
from forecast_svc.store import ForecastStore

log = logging.getLogger(__name__)
INTERVAL_S = 30.0
MIN_GAP_S = 5.0
SCOPES = {1: "network", 2: "region"}  # forecast.* scope codes
HORIZONS = {1: "day_ahead", 2: "two_days_ahead", 3: "three_days_ahead"}  # lead day of the step

ABS_PCT_ERROR = Gauge(
    "meters_forecast_abs_pct_error",
    "Mean absolute percentage error (percent) of the stored forecasts over the last 24 h of steps with actuals,"
    " by scope (network, region: all regions pooled) and horizon (lead day of the step: day_ahead = first 24 h).",
    ["scope", "horizon"])
DEMAND_MW = Gauge(
    "meters_forecast_demand_mw",
    "Demand at the latest step with both a stored forecast and an actual: kind=forecast (newest run) or actual,"
    " by scope (region: summed over the regions with both).", ["scope", "kind"])
REFRESHED = Gauge("meters_forecast_metrics_refreshed_timestamp_seconds",
                  "Unix time the forecast error and demand gauges were last refreshed.")

ROWS_SQL = """
    WITH latest AS (SELECT max(step_end) AS t FROM forecast.demand_actuals WHERE scope = %(scope)s)
    SELECT f.scope_id, f."timestamp", f.run_id,
           ceil(extract(epoch FROM f."timestamp" - r.start_time) / 86400)::int AS lead_day,
           f.predicted_demand_mw, f.actual_demand_mw
    FROM latest, forecast.demand_forecasts f JOIN forecast.forecast_runs r ON r.id = f.run_id
    WHERE f.scope = %(scope)s AND f.actual_demand_mw IS NOT NULL
      AND f."timestamp" > latest.t - interval '24 hours' AND f."timestamp" <= latest.t"""
COLUMNS = ["scope_id", "ts", "run_id", "lead_day", "predicted", "actual"]


def figures(rows: pd.DataFrame) -> tuple[dict[str, float], tuple[float, float] | None]:
    """Rows (COLUMNS) of one scope's window -> (MAPE % per horizon label, (forecast, actual) MW at the
    latest step), newest run per step and lead day."""
    if rows.empty:
        return {}, None
    newest = rows.sort_values("run_id").drop_duplicates(["scope_id", "ts", "lead_day"], keep="last")
    errors = {}
    for lead, part in newest.groupby("lead_day"):
        mape = mape_percent(part["predicted"], part["actual"])
        if lead in HORIZONS and mape == mape:  # not NaN (all actuals 0)
            errors[HORIZONS[lead]] = mape
    at = newest[newest["ts"] == newest["ts"].max()].drop_duplicates("scope_id", keep="last")
    return errors, (float(at["predicted"].sum()), float(at["actual"].sum()))


def publish(scope: str, errors: dict[str, float], demand: tuple[float, float] | None) -> None:
    """Set one scope's gauges; horizons (and demand) without data lose their series rather than go stale."""
    for horizon in HORIZONS.values():
        if horizon in errors:
            ABS_PCT_ERROR.labels(scope, horizon).set(errors[horizon])
        else:
            _remove(ABS_PCT_ERROR, scope, horizon)
    for i, kind in enumerate(("forecast", "actual")):
        if demand is not None:
            DEMAND_MW.labels(scope, kind).set(demand[i])
        else:
            _remove(DEMAND_MW, scope, kind)


def _remove(gauge: Gauge, *labels: str) -> None:
    try:
        gauge.remove(*labels)
    except KeyError:
        pass


async def refresh(store: ForecastStore) -> None:
    async with store.pool.connection() as conn:
        for code, scope in SCOPES.items():
            cur = await conn.execute(ROWS_SQL, {"scope": code})
            rows = pd.DataFrame(await cur.fetchall(), columns=COLUMNS)
            publish(scope, *figures(rows))
    REFRESHED.set(time.time())


class Refresher:
    """Refreshes the gauges when poked (actuals written) and on a timer; a failed refresh is logged
    and retried at the next one."""

    def __init__(self, store: ForecastStore, interval_s: float = INTERVAL_S, min_gap_s: float = MIN_GAP_S):
        self.store = store
        self.interval_s, self.min_gap_s = interval_s, min_gap_s
        self.poked = asyncio.Event()

    def poke(self) -> None:
        self.poked.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.poked.wait(), self.interval_s)
            except TimeoutError:
                pass
            self.poked.clear()
            try:
                await refresh(self.store)
            except Exception:  # noqa: BLE001 - the gauges keep their last values; the timer retries
                log.exception("forecast metrics refresh failed")
            await asyncio.sleep(self.min_gap_s)
