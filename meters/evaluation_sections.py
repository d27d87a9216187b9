"""What reports/evaluation.md shows (meters/evaluation_report.py): real data first, then the plan's targets.

Goals are the plan's (../shared/seed/implementation-plan.md) or the issue's that set them; peers are the
simple methods a utility analyst would use, or published figures, computed on the same held-out data.
"""

from meters.evaluation_report import Row, Section

ANOMALY_TYPES = ("stuck_at_zero", "consumption_spike", "voltage_sag", "voltage_swell", "reverse_flow",
                 "power_factor_collapse")
ETTH1_LOADS = ("hufl", "hull", "mufl", "mull", "lufl", "lull")
FORECAST_PEERS = (("same time last week", "last_week"), ("mean of 4 weeks", "mean_4w"), ("MSTL", "mstl"),
                  ("LightGBM lags", "lgbm_lags"))
BENCHMARK_PEERS = (("DLinear", "dlinear"), ("PatchTST/42", "patchtst42"), ("PatchTST/64", "patchtst64"))


def _real_forecast(label: str, series: str, metric: str, fmt: str = "{:.3f}") -> Row:
    base = f"forecast_real_{series}"
    return Row(f"{label} {metric.replace('_', ' ')}", f"{base}_model_{metric}",
               tuple((name, f"{base}_{peer}_{metric}") for name, peer in FORECAST_PEERS),
               goal_peers=True, lower_is_better=True, fmt=fmt)


def _benchmark(setting: str, horizon: int, metric: str) -> Row:
    base = f"thermal_etth1_{setting}_h{horizon}_{metric}"
    return Row(f"{setting.upper()} horizon {horizon} {metric.upper()}", f"{base}_ours",
               (*((name, f"{base}_{k}") for name, k in BENCHMARK_PEERS), ("last value", f"{base}_naive")),
               goal_peers=True, lower_is_better=True, fmt="{:.4f}")


SECTIONS = (
    Section("Real data: SGSC households, day-ahead demand forecasts",
            "50 NSW households (data/sgsc-nsw-50-households), rolling-origin day-ahead backtests "
            "(forecast_svc/real_evaluation.py). MAPE on single households is dominated by near-zero hours; "
            "MAE is the fairer figure there.",
            (_real_forecast("50 summed:", "sgsc_sum", "mape", "{:.2f}"), _real_forecast("50 summed:", "sgsc_sum", "mae"),
             _real_forecast("per household:", "sgsc_households", "mae"),
             Row("50 summed: 90 % interval coverage", "forecast_real_sgsc_sum_model_interval_coverage")),
            plots=("forecast_real_sgsc_sum.png",)),
    Section("Real data: SGSC households, segmentation stability",
            "No segment is planted in real data: the promoted model's monthly runs on the plan's 90-day "
            "windows, compared run to run (customer_svc/sgsc_stability.py).",
            (Row("ARI between consecutive monthly runs (median)", "segmentation_sgsc_ari_median"),
             Row("ARI (worst pair)", "segmentation_sgsc_ari_min"),
             Row("households keeping their segment (median)", "segmentation_sgsc_unchanged_share_median"),
             Row("households keeping their segment (worst pair)", "segmentation_sgsc_unchanged_share_min")),
            plots=("segmentation_sgsc_stability.png",)),
    Section("Real data: SGSC households, anomaly false alarms",
            "The promoted anomaly detector on real households, where nothing is planted: alerts it would raise.",
            prefix="anomaly_sgsc_", plots=("anomaly_sgsc_examples.png",)),
    Section("Real data: SGSC households, VEE estimation of gaps",
            "Gaps cut from real reads and estimated (meters/vee); MAE in kWh per interval.",
            (Row("all gaps: MAE", "vee_mae_all_ours", (("same time last week", "vee_mae_all_last_week"),
                                                       ("mean of 4 weeks", "vee_mae_all_mean_4w")),
                 goal_peers=True, lower_is_better=True, fmt="{:.4f}"),
             Row("planted zero runs found", "vee_zero_run_recall"), Row("planted spikes found", "vee_spike_recall")),
            plots=("vee_mae_by_gap_length.png",)),
    Section("Real data: ETTh1 transformer, top-oil temperature (standard benchmark)",
            "The literature's 12/4/4-month split, z-scored, every test window (scoring_svc/thermal, docs/thermal.md); "
            "S = oil temperature alone, M = all 7 columns. Goal: at or below the published figures.",
            tuple(_benchmark(s, h, m) for s in ("s", "m") for h in (96, 336) for m in ("mse", "mae"))
            + (Row("IEC 60076-7 physics model, test MAE (degC)", "thermal_physics_test_mae_c", fmt="{:.2f}"),),
            plots=("thermal_etth1.png",)),
    Section("Real data: ETTh1 transformer, load forecasts",
            "The six load channels of the same transformer, rolling-origin day-ahead backtests.",
            tuple(_real_forecast(f"{c.upper()}:", f"etth1_{c}", "mae") for c in ETTH1_LOADS),
            plots=tuple(f"forecast_real_etth1_{c}.png" for c in ETTH1_LOADS)),
    Section("Plan targets: customer segmentation (synthetic fleet, planted archetypes)",
            "Held-out customers of another seed; the plan's 90 days of usage.",
            (Row("agreement with planted segments, 90 days", "segmentation_accuracy_90d", target=0.94),
             Row("ARI, 90 days", "segmentation_ari_90d"), Row("agreement, a year", "segmentation_accuracy")),
            plots=("segment_confusion.png", "segment_profiles.png")),
    Section("Plan targets: transformer failure prediction",
            "Failures of another seed's fleet; an alarm is true if its transformer fails within 72 h.",
            (Row("failures warned >= 48 h ahead", "failure_recall_48h", target=0.87),
             Row("alarm precision (per episode)", "failure_precision", target=0.87),
             Row("failures warned at all (72 h)", "failure_recall"),
             Row("median lead (h)", "failure_lead_hours_median", fmt="{:.1f}")),
            plots=("scoring_failure_lead_time.png",)),
    Section("Plan targets: anomaly detection",
            "Planted anomalies on held-out transformers' meters, later days.",
            tuple(Row(f"recall: {t.replace('_', ' ')}", f"anomaly_recall_{t}", target=0.90) for t in ANOMALY_TYPES)
            + (Row("precision", "anomaly_precision"), Row("F1", "anomaly_f1")),
            plots=("scoring_anomaly_confusion.png", "scoring_anomaly_scores.png")),
    Section("Plan targets: demand response",
            "Planted reductions on the held-out year; the reduction measured against the control-group baseline "
            "(the other half of the customers as the control), beside AEMO's 10 of 10 and high 4 of 5.",
            (Row("reduction error %", "dr_reduction_error_pct_control",
                 (("10-of-10 baseline", "dr_reduction_error_pct_10of10"), ("4-of-5 baseline", "dr_reduction_error_pct_4of5")),
                 target=10.0, lower_is_better=True, fmt="{:.1f}"),
             Row("reduction error %, control group, mean over other participant draws",
                 "dr_reduction_error_pct_control_draws_mean", target=10.0, lower_is_better=True, fmt="{:.1f}"),
             Row("reduction error %, control group, worst draw", "dr_reduction_error_pct_control_draws_max",
                 lower_is_better=True, fmt="{:.1f}"),
             Row("baseline error %", "dr_baseline_error_pct_control", (("10-of-10 baseline", "dr_baseline_error_pct_10of10"),),
                 lower_is_better=True, fmt="{:.1f}")),
            plots=("dr_baseline.png",)),
    Section("Plan targets: demand forecasts by aggregation size",
            "Held-out day-ahead backtests; share of half-hour steps within 5 % (plan: 96 %), by the meters in the "
            "aggregate (forecast_svc/size_ladder.py).",
            (Row("network (150,000 meters)", "forecast_within_5pct", target=0.96),
             *(Row(f"region {r.upper()}", f"forecast_{r}_within_5pct", target=0.96)
               for r in ("nsw", "vic", "qld", "sa", "tas")),
             Row("zone substations (~3,000)", "forecast_substation_within_5pct", target=0.96),
             Row("3,000-meter network, own model", "forecast_within_5pct_small", target=0.96),
             Row("transformers (~30)", "forecast_transformer_within_5pct", target=0.96),
             Row("network MAPE %", "forecast_mape", (("same time last week", "forecast_naive_mape"),),
                 goal_peers=True, lower_is_better=True, fmt="{:.2f}")),
            plots=("forecast_by_size.png", "forecast_network_holdout.png")),
    Section("Grid operations: outages, reliability, theft, escalation",
            "A year of at least 10,000 meters with planted outages and thefts (issue 14).",
            (Row("sustained outage precision", "outage_precision_sustained", target=0.98),
             Row("sustained outage recall", "outage_recall_sustained", target=0.98),
             Row("restoration time error, median (min)", "outage_restoration_error_minutes_median", target=5.0,
                 lower_is_better=True, fmt="{:.2f}"),
             Row("SAIDI relative error", "outage_saidi_total_relative_error", target=0.02, lower_is_better=True,
                 fmt="{:.4f}"),
             Row("SAIFI relative error", "outage_saifi_total_relative_error", target=0.02, lower_is_better=True,
                 fmt="{:.4f}"),
             Row("theft: top-1 % recall of bypasses >= 15 %", "theft_top1pct_recall_bypass_15pct",
                 (("consumption-drop rule", "theft_baseline_top1pct_recall_bypass_15pct"),), target=0.9),
             Row("theft: top-1 % precision", "theft_top1pct_precision",
                 (("consumption-drop rule", "theft_baseline_top1pct_precision"),)),
             Row("escalation steps missed", "alert_escalation_missed_steps", target=0.0, lower_is_better=True,
                 fmt="{:.0f}")),
            plots=("outage_detection.png", "theft_detection.png")),
)
