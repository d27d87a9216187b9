"""`meters train` for forecasting: fits the demand model of the network and of each NEM region on
the synthetic fleet's metered demand, leaving the last HOLDOUT_DAYS for `meters evaluate`,
then registers and promotes each model (registry name "forecast-network", "forecast-region-NSW", ...)."""

import pandas as pd

from forecast_svc.data import fleet_series
from forecast_svc.model import DemandModel
from forecast_svc.scopes import REGION, Scope, network, region
from meters.fleet import FleetConfig
from meters.ml_jobs import MlJob
from meters.model_registry import Manifest, ModelRegistry

HOLDOUT_DAYS = 7
REGIONS = ("NSW", "VIC", "QLD", "SA", "TAS")


def fleet_config(job: MlJob) -> FleetConfig:
    return FleetConfig(meters=600 if job.quick else job.meters, days=12 if job.quick else job.days, seed=job.seed)


def holdout_days(job: MlJob) -> int:
    return 2 if job.quick else HOLDOUT_DAYS


def scopes(job: MlJob) -> list[Scope]:
    return [network()] if job.quick else [network(), *(region(r) for r in REGIONS)]


def series_for(all_series: dict[str, pd.DataFrame], scope: Scope) -> pd.DataFrame:
    return all_series[scope.scope_id if scope.kind == REGION else "network"]


def register(registry: ModelRegistry, model: DemandModel, series: pd.DataFrame, promote: bool = True) -> str:
    version, staging = registry.new_version_dir(model.scope.model_name)
    try:
        model.save(staging)
        manifest = Manifest(
            name=model.scope.model_name, version=version, framework="prophet+torch",
            feature_schema=["ds", "y", "temperature_c"] if model.params.has_temperature else ["ds", "y"],
            training_window={"start": series["ds"].iloc[0].isoformat(), "end": series["ds"].iloc[-1].isoformat()},
            metrics={f"calibration_mae_blend_{k}": v
                     for k, v in model.params.calibration.get("day_ahead_mae_by_blend", {}).items()},
            params={"blend": model.params.blend, "band_mw": model.params.band_mw,
                    "interval_level": model.params.interval_level},
        )
        registry.commit(staging, manifest)
    except BaseException:
        registry.discard(staging)
        raise
    if promote:
        registry.promote(model.scope.model_name, version)
    return version


def train(job: MlJob) -> dict[str, str]:
    all_series = fleet_series(fleet_config(job))
    cut = holdout_days(job) * 96
    promoted = {}
    for scope in scopes(job):
        series = series_for(all_series, scope).iloc[:-cut]
        model = DemandModel.fit(series, scope, calibration_days=2 if job.quick else 3, seed=job.seed)
        promoted[scope.model_name] = register(job.registry, model, series)
    return promoted
