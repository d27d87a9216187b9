"""Which model answers a network request: the sum of the regions when their models are at least
as new as the network's, else the network's own (e.g. after a network-only retrain)."""

import asyncio

import pandas as pd
import pytest

from forecast_svc.forecaster import Forecaster, ModelCache
from forecast_svc.model import DemandModel
from forecast_svc.scopes import TIMEZONES, network, region
from forecast_svc.training import register
from meters.model_registry import ModelRegistry
from tests.test_forecast_model import synthetic


class HistoryStore:
    """The one store call compute() makes for these scopes: measured demand per scope."""

    def __init__(self, series: pd.DataFrame):
        self.series = series

    async def history(self, scope, scope_id, start, end):
        s = self.series
        return s[(s["ds"] >= start) & (s["ds"] <= end)][["ds", "y"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    series = synthetic(days=9)
    registry = ModelRegistry(tmp_path_factory.mktemp("registry"))
    fitted = {scope: DemandModel.fit(series, scope, calibration_days=0)
              for scope in (network(), *(region(code) for code in TIMEZONES))}
    for model in fitted.values():  # network first, then the regions: as `meters train` does
        register(registry, model, series)
    forecaster = Forecaster(HistoryStore(series), ModelCache(registry))
    start = series["ds"].iloc[-1].to_pydatetime()

    def network_run():
        return asyncio.run(forecaster.compute("network", "", 24, start))

    return registry, fitted[network()], series, network_run


def test_network_is_the_sum_of_fresh_regions(served):
    registry, _, series, network_run = served
    run = network_run()
    assert run.model_version.startswith("sum of regions: NSW ")
    # Each scope's history is the same series here, so the network is 1/5 of the regions' sum.
    regions = sum(DemandModel.load(registry.promoted(region(code).model_name).path).forecast(
        series[["ds", "y"]], series["ds"].iloc[-1], 96)["forecast"].to_numpy() for code in TIMEZONES)
    assert [p.predicted_mw for p in run.points] == pytest.approx(list(regions / 5), rel=1e-9)


def test_a_newer_network_model_is_served_itself(served):
    registry, model, series, network_run = served
    version = register(registry, model, series)
    assert network_run().model_version == version
