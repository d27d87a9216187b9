"""The aggregation-size ladder: each rung's meter count comes from the fleet's topology."""

from forecast_svc import size_ladder
from meters.fleet import FleetConfig
from meters.regions import REGIONS


def test_rungs_count_the_meters_of_each_aggregate():
    cfg = FleetConfig(meters=6000, days=2, seed=3)
    sizes = size_ladder.rungs(cfg)
    assert sum(sizes[f"forecast_{r.lower()}"] for r in REGIONS) == 6000 == sizes["forecast"]
    assert 1 < sizes["forecast_transformer"] < sizes["forecast_substation"] < 6000


def test_only_rungs_with_figures_are_reported(tmp_path):
    figures = {"forecast_transformer_within_5pct": 0.1, "forecast_transformer_mape": 40.0,
               "forecast_transformer_naive_mape": 45.0, "forecast_within_5pct": 0.9, "forecast_mape": 2.0,
               "forecast_naive_mape": 2.1}
    out = size_ladder.evaluate(figures, FleetConfig(meters=6000, days=2, seed=3), None, tmp_path)
    assert list(out) == ["forecast_transformer_meters"]
    assert (tmp_path / "forecast_by_size.png").stat().st_size > 0
