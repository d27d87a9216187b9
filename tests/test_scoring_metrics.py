"""scoring_svc.metrics: the transformer load gauges and the series created at start."""

from prometheus_client import REGISTRY

from scoring_svc import metrics


def value(name: str, **labels) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_load_gauges_by_band_and_substation_and_stale_series_removed():
    metrics.set_load_gauges([("NSW", "3", "under_50", 5, 0.31), ("NSW", "3", "over_100", 1, 1.2),
                             ("NSW", "4", "80_100", 2, 0.93), ("VIC", "none", "no_data", 2, None)])
    assert value("meters_transformers_by_load_band", region="NSW", band="under_50") == 5
    assert value("meters_transformers_by_load_band", region="NSW", band="50_80") == 0
    assert value("meters_transformers_by_load_band", region="VIC", band="no_data") == 2
    assert value("meters_transformer_load_ratio_max", region="NSW", substation_id="3") == 1.2
    assert value("meters_transformer_load_ratio_max", region="VIC", substation_id="none") is None
    metrics.set_load_gauges([("NSW", "4", "50_80", 2, 0.6)])
    assert value("meters_transformer_load_ratio_max", region="NSW", substation_id="3") is None
    assert value("meters_transformer_load_ratio_max", region="NSW", substation_id="4") == 0.6
    assert value("meters_transformers_by_load_band", region="NSW", band="under_50") == 0
    assert value("meters_transformers_by_load_band", region="VIC", band="no_data") is None
    metrics.set_load_gauges([])
    assert value("meters_transformers_by_load_band", region="unknown", band="over_100") == 0


def test_series_read_by_dashboards_exist_before_any_event():
    assert value("meters_scoring_anomalies_total", anomaly_type="voltage_sag") is not None
    assert value("meters_scoring_model_seconds_count", model="anomaly") is not None
    assert value("meters_scoring_model_seconds_count", model="failure") is not None


def test_anomaly_baseline_is_one_series_of_the_served_version_and_none_when_unknown():
    metrics.set_anomaly_baseline("20261201-a", 0.0087)
    assert value("meters_scoring_anomaly_baseline_flag_ratio", model_version="20261201-a") == 0.0087
    metrics.set_anomaly_baseline("20261207-b", 0.011)
    assert value("meters_scoring_anomaly_baseline_flag_ratio", model_version="20261201-a") is None
    assert value("meters_scoring_anomaly_baseline_flag_ratio", model_version="20261207-b") == 0.011
    metrics.set_anomaly_baseline("20261208-c", None)  # a model trained before the baseline was recorded
    assert value("meters_scoring_anomaly_baseline_flag_ratio", model_version="20261208-c") is None
    assert value("meters_scoring_anomaly_baseline_flag_ratio", model_version="20261207-b") is None
