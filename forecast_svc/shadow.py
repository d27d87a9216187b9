"""Shadow mode for the network forecast model: while the file registry's SHADOW pointer names a
candidate, every network forecast the service computes for a caller is also computed by the
candidate, after the answer has gone, through the same code path (history, level adaptation, bands).
The candidate's forecast is stored in forecast.shadow_forecasts beside the promoted one's and
nothing else: it is never returned, stored as a run, or scored into the service's other metrics.

Both are scored against the demand measured from the readings as it arrives (promotion.py); the
time each took to answer goes with them, for the rule's latency condition.
"""

import asyncio
import logging
import time

from forecast_svc.forecaster import Forecaster, ModelCache
from forecast_svc.scopes import NETWORK
from forecast_svc.store import ForecastStore, Run
from meters.model_registry import PROMOTED, SHADOW, ModelRegistry

log = logging.getLogger(__name__)
MODEL = "forecast-network"


class Shadow:
    def __init__(self, store: ForecastStore, registry: ModelRegistry, interval_level: float = 0.9):
        self.store = store
        self.registry = registry
        self.candidate = Forecaster(store, ModelCache(registry, SHADOW), interval_level)
        self.tasks: set[asyncio.Task] = set()

    def observe(self, run: Run, latency_s: float, temperature=None) -> None:
        """Called with each network run computed for a caller; scores the candidate in the background."""
        if run.scope != NETWORK or not run.points:
            return
        shadow, promoted = self.registry.pointed(MODEL, SHADOW), self.registry.pointed(MODEL, PROMOTED)
        if shadow is None or promoted is None or not run.model_version.startswith(promoted):
            return  # no candidate, or the answer did not come from the promoted network model
        task = asyncio.create_task(self._score(run, latency_s, temperature, promoted, shadow))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self) -> None:
        """Wait for the candidate forecasts in flight (shutdown, tests)."""
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _score(self, run: Run, latency_s: float, temperature, promoted: str, shadow: str) -> None:
        try:
            started = time.perf_counter()
            candidate = await self.candidate.compute(NETWORK, "", run.horizon_hours, run.start_time, temperature)
            shadow_latency = time.perf_counter() - started
            rows = [(run.id, "promoted", promoted, p.time, p.predicted_mw, latency_s) for p in run.points]
            rows += [(run.id, "shadow", shadow, p.time, p.predicted_mw, shadow_latency) for p in candidate.points]
            async with self.store.pool.connection() as conn, conn.transaction():
                async with conn.cursor().copy(
                        """COPY forecast.shadow_forecasts (request_id, role, model_version, "timestamp",
                           predicted_demand_mw, latency_seconds) FROM STDIN""") as copy:
                    for row in rows:
                        await copy.write_row(row)
        except Exception:  # noqa: BLE001 - a failing candidate must never disturb the service
            log.exception("shadow forecast failed", extra={"fields": {"shadow": shadow}})
