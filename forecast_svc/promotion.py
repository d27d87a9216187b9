"""The network forecast model's promotion: score the candidate in shadow and the promoted model on
the live requests both answered (shadow.py) against the measured network demand, apply the promotion
rule (meters/model_lifecycle/rule.py), and record the decision with its audit event in the
transaction that moves the registry's pointers (meters/model_lifecycle/store.py).

The window: the scored steps in the last `window_hours` up to the latest measured network step (not
the wall clock, as forecast_svc/metrics.py), counting only requests answered by both versions. The
same scores are exported to Prometheus (labels model and role only) for the Model Lifecycle dashboard.
"""

import asyncio
import dataclasses
import logging
import math
import time

import numpy as np
import pandas as pd
from prometheus_client import Gauge

from forecast_svc.accuracy import mape_percent
from forecast_svc.shadow import MODEL
from meters.audit import Change
from meters.errors import failed_precondition
from meters.model_lifecycle import rule as promotion_rule
from meters.model_lifecycle import store as lifecycle
from meters.model_registry import PROMOTED, SHADOW, ModelRegistry

log = logging.getLogger(__name__)
RULE = promotion_rule.Rule()
ROLES = ("promoted", "shadow")

MAPE = Gauge("meters_model_live_mape_percent",
             "MAPE (percent) against the measured demand of the live forecasts of the promoted model and of the"
             " candidate in shadow, over the promotion rule's window, on the requests both answered.",
             ["model", "role"])
STEPS = Gauge("meters_model_live_scored_steps", "Steps with actuals scored in the promotion rule's window.",
              ["model", "role"])
LATENCY = Gauge("meters_model_live_median_latency_seconds",
                "Median time to compute one answer over the window, promoted model and candidate in shadow.",
                ["model", "role"])

SCORED_SQL = """
    WITH latest AS (SELECT max(step_end) AS t FROM forecast.demand_actuals WHERE scope = 1 AND scope_id = ''),
    both_answered AS (
      SELECT request_id FROM forecast.shadow_forecasts WHERE role = 'promoted' AND model_version = %(promoted)s
      INTERSECT
      SELECT request_id FROM forecast.shadow_forecasts WHERE role = 'shadow' AND model_version = %(shadow)s)
    SELECT s.role, s.request_id, s.latency_seconds, s.predicted_demand_mw, a.demand_mw
    FROM latest, forecast.shadow_forecasts s JOIN both_answered USING (request_id)
    JOIN forecast.demand_actuals a ON a.scope = 1 AND a.scope_id = '' AND a.step_end = s."timestamp"
    WHERE s."timestamp" > latest.t - make_interval(hours => %(hours)s) AND s."timestamp" <= latest.t
      AND s.model_version = CASE s.role WHEN 'promoted' THEN %(promoted)s ELSE %(shadow)s END"""


def score(rows: pd.DataFrame, role: str, version: str) -> promotion_rule.Score:
    part = rows[rows["role"] == role]
    if part.empty:
        return promotion_rule.Score(version, math.nan, 0, math.nan)
    latency = float(np.median(part.drop_duplicates("request_id")["latency"]))
    return promotion_rule.Score(version, mape_percent(part["predicted"], part["actual"]), len(part), latency)


async def scores(pool, promoted: str, shadow: str, hours: int) -> dict[str, promotion_rule.Score]:
    async with pool.connection() as conn:
        cur = await conn.execute(SCORED_SQL, {"promoted": promoted, "shadow": shadow, "hours": hours})
        rows = pd.DataFrame(await cur.fetchall(), columns=["role", "request_id", "latency", "predicted", "actual"])
    return {"promoted": score(rows, "promoted", promoted), "shadow": score(rows, "shadow", shadow)}


def publish(found: dict[str, promotion_rule.Score] | None) -> None:
    """Set the gauges; with no candidate in shadow (None) the steps are 0 and MAPE and latency have
    no series rather than stale ones."""
    for role in ROLES:
        s = found.get(role) if found else None
        STEPS.labels(MODEL, role).set(s.steps if s else 0)
        for gauge, value in ((MAPE, s.error if s else None), (LATENCY, s.latency_s if s else None)):
            if value is None or value != value:
                try:
                    gauge.remove(MODEL, role)
                except KeyError:
                    pass
            else:
                gauge.labels(MODEL, role).set(value)


async def refresh_metrics(pool, registry: ModelRegistry) -> None:
    promoted, shadow = registry.pointed(MODEL, PROMOTED), registry.pointed(MODEL, SHADOW)
    publish(await scores(pool, promoted, shadow, RULE.window_hours) if promoted and shadow else None)


async def decide(pool, registry: ModelRegistry, change: Change, window_hours: int = 0) -> dict:
    """Promote or refuse the candidate in shadow by the rule; the decision row (with the scores)."""
    rule = dataclasses.replace(RULE, window_hours=window_hours) if window_hours else RULE
    promoted, shadow = registry.pointed(MODEL, PROMOTED), registry.pointed(MODEL, SHADOW)
    if shadow is None:
        raise failed_precondition(f"no candidate of {MODEL} is in shadow", "NO_SHADOW")
    if promoted is None:
        raise failed_precondition(f"no promoted {MODEL} to compare the candidate with", "NO_PROMOTED")
    found = await scores(pool, promoted, shadow, rule.window_hours)
    publish(found)
    decision = promotion_rule.decide(found["promoted"], found["shadow"], rule)
    if decision.action == promotion_rule.WAIT:
        raise failed_precondition(decision.reason, "NOT_ENOUGH_SHADOW_STEPS")
    run_id = await lifecycle.run_of(pool, MODEL, shadow)
    row = await lifecycle.decide(pool, registry, MODEL, decision.action, shadow, change,
                                 decision.evidence(rule, found["promoted"], found["shadow"]), run_id)
    return row


PRUNE_SQL = """
    DELETE FROM forecast.shadow_forecasts WHERE request_id NOT IN (
      SELECT request_id FROM forecast.shadow_forecasts WHERE role = 'shadow' AND model_version = %s)"""
PRUNE_EVERY_S = 3600.0


async def prune(pool, registry: ModelRegistry) -> int:
    """Drop the live forecasts of candidates no longer in shadow (decided or replaced): their scores
    live on in their decision's evidence. Keeps the table to one candidate's shadow period."""
    async with pool.connection() as conn:
        cur = await conn.execute(PRUNE_SQL, [registry.pointed(MODEL, SHADOW) or ""])
        return cur.rowcount


async def refresh_forever(pool, registry: ModelRegistry, interval_s: float = 30.0) -> None:
    pruned_at = -math.inf
    while True:
        try:
            if time.monotonic() - pruned_at >= PRUNE_EVERY_S:
                await prune(pool, registry)
                pruned_at = time.monotonic()
            await refresh_metrics(pool, registry)
        except Exception:  # noqa: BLE001 - the gauges keep their last values; the timer retries
            log.exception("shadow score refresh failed")
        await asyncio.sleep(interval_s)
