"""`meters train` for forecasting: fits the demand models on the synthetic fleet's metered demand,
leaving the last HOLDOUT_DAYS for `meters evaluate`, then registers and promotes each model.

Two fleet sizes (`Scale`):
- representative: REPRESENTATIVE_METERS meters, where adding up households averages their own
  noise away as it does on a utility's network (the plan's target is for ~1.2 M meters). Its
  network and region models are the ones the service serves ("forecast-network",
  "forecast-region-NSW", ...).
- small: the job's fleet (`--meters`, 3000 by default), network model only
  ("forecast-network-small"), for the figures at the size the rest of the project uses.
The fleets are aggregated chunk by chunk and the demand sums cached under reports/cache.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forecast_svc.data import fleet_series
from forecast_svc.model import DemandModel
from forecast_svc.scopes import REGION, Scope, network, region
from meters.fleet import FleetConfig
from meters.ml_jobs import MlJob
from meters.model_registry import Manifest, ModelRegistry

HOLDOUT_DAYS = 7
REGIONS = ("NSW", "VIC", "QLD", "SA", "TAS")
# 150,000 meters x 21 days generate in ~2.5 min here; FORECAST_REPRESENTATIVE_METERS overrides it.
REPRESENTATIVE_METERS = int(os.environ.get("FORECAST_REPRESENTATIVE_METERS", 150_000))


@dataclass(frozen=True)
class Scale:
    suffix: str  # "" for the served models and the headline figures, "small" for the job's fleet
    cfg: FleetConfig
    scopes: tuple[Scope, ...]

    def model_name(self, scope: Scope) -> str:
        return f"{scope.model_name}-{self.suffix}" if self.suffix else scope.model_name


def scales(job: MlJob) -> list[Scale]:
    if job.quick:  # tests and the demo: one small fleet, network only
        return [Scale("", FleetConfig(meters=600, days=12, seed=job.seed), (network(),))]
    return [
        Scale("", FleetConfig(meters=REPRESENTATIVE_METERS, days=job.days, seed=job.seed),
              (network(), *(region(r) for r in REGIONS))),
        Scale("small", FleetConfig(meters=job.meters, days=job.days, seed=job.seed), (network(),)),
    ]


def cache_dir(job: MlJob) -> Path:
    return job.reports_dir / "cache"


def holdout_days(job: MlJob) -> int:
    return 2 if job.quick else HOLDOUT_DAYS


def series_for(all_series: dict[str, pd.DataFrame], scope: Scope) -> pd.DataFrame:
    return all_series[scope.scope_id if scope.kind == REGION else "network"]


def register(registry: ModelRegistry, model: DemandModel, series: pd.DataFrame, promote: bool = True,
             name: str | None = None) -> str:
    name = name or model.scope.model_name
    with registry.staged(name) as (version, staging):
        model.save(staging)
        manifest = Manifest(
            name=name, version=version, framework="prophet+torch",
            feature_schema=["ds", "y", "temperature_c"] if model.params.has_temperature else ["ds", "y"],
            training_window={"start": series["ds"].iloc[0].isoformat(), "end": series["ds"].iloc[-1].isoformat()},
            metrics={f"calibration_mae_blend_{k}": v
                     for k, v in model.params.calibration.get("day_ahead_mae_by_blend", {}).items()},
            params={"blend": model.params.blend, "band_mw": model.params.band_mw,
                    "interval_level": model.params.interval_level},
        )
        registry.commit(staging, manifest)
    if promote:
        registry.promote(name, version)
    return version


def train(job: MlJob) -> dict[str, str]:
    cut = holdout_days(job) * 96
    promoted = {}
    for scale in scales(job):
        all_series = fleet_series(scale.cfg, cache_dir(job))
        for scope in scale.scopes:
            series = series_for(all_series, scope).iloc[:-cut]
            model = DemandModel.fit(series, scope, seed=job.seed)
            name = scale.model_name(scope)
            promoted[name] = register(job.registry, model, series, name=name)
    return promoted
