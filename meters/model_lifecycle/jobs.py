"""A training job: `meters train <model>`, what the local scheduler and the chart's CronJobs run.

Train one model (trainers.py), digest its artifact, record the run in model_registry.runs with its
data window and lineage, then decide by the model's schedule (schedules.py): put it in shadow beside
the promoted model, or promote it. A failed run is recorded too (status failed, its error), then
raised. Every record is audited as the job's own change (actor system:<job>).
"""

import asyncio
import datetime as dt
import logging

from meters.db import migrate, open_pool
from meters.model_lifecycle import MIGRATIONS, store
from meters.model_lifecycle.digest import folder_digest
from meters.model_lifecycle.schedules import SCHEDULES
from meters.model_lifecycle.trainers import REGISTRY_NAMES, Context, Options, train
from meters.model_registry import ModelRegistry

log = logging.getLogger(__name__)
DATA_SOURCES = {"forecast": "forecast.demand_actuals (network)"}


async def run(model: str, dsn: str, registry: ModelRegistry, options: Options = Options(),
              job: str = "cli") -> dict:
    """Train, record and decide; the run's summary (model name, version, run id, decision)."""
    schedule = SCHEDULES[model]
    await asyncio.to_thread(migrate, dsn, MIGRATIONS)
    pool = await open_pool(dsn, max_size=2)
    try:
        started = dt.datetime.now(dt.timezone.utc)
        try:
            trained = await train(model, Context(registry, pool, options))
        except Exception as exc:
            source = DATA_SOURCES.get(model, "synthetic fleet")
            await store.record_run(pool, store.Run(REGISTRY_NAMES[model], job, source, started, status="failed",
                                                   error_message=str(exc)[:500]),
                                   store.job_change("record_run", job))
            raise
        digest, files = folder_digest(registry.get(trained.name, trained.version).path)
        run_id = await store.record_run(pool, store.Run(
            trained.name, job, trained.data_source, started, trained.version, data_start=trained.data_start,
            data_end=trained.data_end, data_rows=trained.data_rows, data_sha256=trained.data_sha256,
            metrics=trained.metrics, artifact_sha256=digest, files=files), store.job_change("record_run", job))
        reason = ("candidate: compared with the promoted model on live traffic before it serves"
                  if schedule.after == "shadow" else "no shadow stage for this model: promoted as trained")
        decision = await store.decide(pool, registry, trained.name, schedule.after, trained.version,
                                      store.job_change(schedule.after, job), {"reason": reason}, run_id)
        log.info("training run recorded", extra={"fields": {"model": trained.name, "version": trained.version,
                                                            "run_id": run_id, "decision": schedule.after}})
        return {"model": trained.name, "version": trained.version, "run_id": run_id,
                "decision": decision["action"], "artifact_sha256": digest}
    finally:
        await pool.close()
