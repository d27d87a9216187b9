"""One training function per scheduled model, each returning what it fitted and registered (`Trained`)
without promoting it: the job (jobs.py) records the run and makes the decision.

anomaly, failure and segmentation train on the synthetic fleet as `meters train` does (there is no
labelled live data for them yet); forecast trains on the network demand measured from the readings
(forecast.demand_actuals), over the job's data window.
"""

import asyncio
import dataclasses
import datetime as dt
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from meters.ml_jobs import MlJob
from meters.model_lifecycle.digest import bytes_sha256
from meters.model_registry import ModelRegistry


@dataclass(frozen=True)
class Options:
    training_days: int = 28  # forecast: days fitted (at most what is stored)
    holdout_days: int = 1  # forecast: days after the fitted ones scored as its holdout metrics
    data_end: dt.datetime | None = None  # forecast: the window ends here (default: the latest actual)
    meters: int = 3000  # fleet-trained models: the synthetic fleet's size
    days: int = 21
    seed: int = 7
    quick: bool = False
    reports_dir: Path = Path(__file__).resolve().parents[2] / "reports"  # the fleets' cache


@dataclass
class Trained:
    name: str  # the file registry's model name
    version: str
    data_source: str
    data_start: dt.datetime | None
    data_end: dt.datetime | None
    data_rows: int | None
    data_sha256: str | None
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    registry: ModelRegistry
    pool: object  # psycopg_pool.AsyncConnectionPool
    options: Options


# model -> (module, function, registry name) of the MlJob trainers of `meters train`.
FLEET_TRAINERS = {
    "anomaly": ("scoring_svc.training", "train_anomaly", "anomaly"),
    "failure": ("scoring_svc.training", "train_failure", "failure"),
    "segmentation": ("customer_svc.training", "train", "segmentation"),
}


# job name -> the file registry's model name (what runs and decisions are recorded under).
REGISTRY_NAMES = {**{model: name for model, (_, _, name) in FLEET_TRAINERS.items()}, "forecast": "forecast-network"}


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


async def fleet_trainer(model: str, ctx: Context) -> Trained:
    module, function, name = FLEET_TRAINERS[model]
    o = ctx.options
    job = MlJob(ctx.registry, o.reports_dir, o.meters, o.days, o.seed, o.quick, promote=False)
    train = getattr(importlib.import_module(module), function)
    version = (await asyncio.to_thread(train, job))[name]
    manifest = ctx.registry.get(name, version).manifest
    config = {"meters": o.meters, "days": o.days, "seed": o.seed, "quick": o.quick}
    window = manifest.training_window
    start, end = _time(window.get("start")), _time(window.get("end"))
    if end is None and start is not None and window.get("days"):  # segmentation: a start and a length
        end = start + dt.timedelta(days=int(window["days"]))
    described = json.dumps(config, sort_keys=True)
    return Trained(name, version, f"synthetic fleet {described}", start, end, None, bytes_sha256(described.encode()),
                   {k: v for k, v in manifest.metrics.items() if isinstance(v, (int, float))})


async def train(model: str, ctx: Context) -> Trained:
    if model in FLEET_TRAINERS:
        return await fleet_trainer(model, ctx)
    if model == "forecast":
        return await importlib.import_module("forecast_svc.candidate").train(ctx)
    raise KeyError(model)


def options(**values) -> Options:
    return dataclasses.replace(Options(), **{k: v for k, v in values.items() if v is not None})
