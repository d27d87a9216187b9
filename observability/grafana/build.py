"""Grafana dashboards as code (grafana-foundation-sdk): `python -m observability.grafana.build`
writes dashboards/*.json; `--check` fails when the checked-in JSON differs from what this builds.

Data comes from two provisioned datasources (provisioning/datasources/meters.yml): Prometheus
(uid `prometheus`) for service metrics, PostgreSQL (uid `meters-postgres`) for the services' own
tables. SQL panels read only tables that exist in the services' schemas (meters, grid, ml, forecast, customers, alerts,
model_registry); the tests
run every query of every dashboard against the real mesh.
"""

import argparse
import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import heatmap, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig, ReduceDataOptions
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import GraphThresholdsStyleMode, HeatmapCellLayout
from grafana_foundation_sdk.models.dashboard import DataSourceRef, Threshold, ThresholdsMode
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUT = Path(__file__).parent / "dashboards"
PROM = DataSourceRef(type_val="prometheus", uid="prometheus")
PG = DataSourceRef(type_val="grafana-postgresql-datasource", uid="meters-postgres")


class SqlQuery(cogvariants.Dataquery):
    """A PostgreSQL datasource query (the SDK ships no builder for it)."""

    def __init__(self, raw_sql: str, fmt: str, ref_id: str):
        self.raw_sql, self.fmt, self.ref_id = raw_sql, fmt, ref_id

    def to_json(self) -> dict:
        return {"refId": self.ref_id, "datasource": PG.to_json(), "editorMode": "code", "rawQuery": True,
                "format": self.fmt, "rawSql": self.raw_sql}


class Sql(cogbuilder.Builder[SqlQuery]):
    def __init__(self, raw_sql: str, fmt: str = "table", ref_id: str = "A"):
        self._q = SqlQuery(" ".join(raw_sql.split()), fmt, ref_id)

    def build(self) -> SqlQuery:
        return self._q


def prom(expr: str, legend: str = "", ref_id: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend or "__auto").ref_id(ref_id).datasource(PROM)


def graph(title: str, *targets, unit: str = "short", w: int = 12, h: int = 8, ds=PROM):
    panel = timeseries.Panel().title(title).datasource(ds).unit(unit).span(w).height(h)
    for t in targets:
        panel.with_target(t)
    return panel


def single(title: str, target, unit: str = "short", w: int = 6, ds=PROM):
    return (stat.Panel().title(title).datasource(ds).unit(unit).span(w).height(4).with_target(target)
            .reduce_options(ReduceDataOptions().calcs(["lastNotNull"])))


def target_met(target: float) -> db.ThresholdsConfig:
    """Red below a plan target, green at or above it."""
    return db.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(value=None, color="red"), Threshold(value=target, color="green")])


def ratio_against_target(title: str, expr: str, target: float, w: int = 6):
    """A 0-1 ratio as a percentage, coloured against the plan's target."""
    return (stat.Panel().title(title).datasource(PROM).unit("percentunit").min(0).max(1).span(w).height(4)
            .with_target(prom(expr, "ratio")).reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
            .thresholds(target_met(target)))


def ratio_trend(title: str, targets: list, target: float, w: int = 12):
    """Ratios over time with the plan's target drawn as a dashed line."""
    return (graph(title, *targets, unit="percentunit", w=w).min(0).max(1).thresholds(target_met(target))
            .thresholds_style(GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED)))


def grid(title: str, target, w: int = 24, h: int = 9, ds=PG):
    return table.Panel().title(title).datasource(ds).span(w).height(h).with_target(target)


def voltage_heatmap(title: str, w: int = 12, h: int = 8):
    """Accepted readings per voltage bucket over time (ingest's meters_ingest_reading_voltage_volts)."""
    target = prom(f"sum by (le) (rate(meters_ingest_reading_voltage_volts_bucket[{RATE}]))", "{{le}}")
    return (heatmap.Panel().title(title).datasource(PROM).span(w).height(h).calculate(False)
            .rows_frame(heatmap.RowsHeatmapOptions().layout(HeatmapCellLayout.LE))
            .y_axis(heatmap.YAxisConfig().unit("volt")).with_target(target.format(PromQueryFormat.HEATMAP)))


def dashboard(uid: str, title: str, refresh: str, panels: list, time_from: str = "now-6h", description: str = ""):
    d = (db.Dashboard(title).uid(uid).tags(["meters"]).refresh(refresh).time(time_from, "now")
         .timezone("browser").description(description).editable())
    for i, panel in enumerate(panels, 1):
        d.with_panel(panel.id(i))
    return d


# Open alerts of one asset type, most severe and newest first.
def open_alerts_sql(where: str) -> str:
    return f"""SELECT id, severity, status, title, asset_type, asset_id, occurrences, detected_at, last_seen_at
      FROM alerts.alerts WHERE status <> 'resolved' AND {where}
      ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, detected_at DESC LIMIT 200"""


RATE = "$__rate_interval"
VOLT_BUCKET = "meters_ingest_reading_voltage_volts_bucket"
# Share of accepted readings outside the plan's 210-250 V band (bucket edges of the voltage histogram).
OUTSIDE_BAND = (f'100 * (1 - (sum(rate({VOLT_BUCKET}{{le="250.0"}}[{RATE}])) - sum(rate({VOLT_BUCKET}{{le="210.0"}}[{RATE}])))'
                f" / sum(rate(meters_ingest_reading_voltage_volts_count[{RATE}])))")


def grid_overview():
    return dashboard("meters-grid-overview", "Grid Overview", "30s", [
        single("Readings accepted /s", prom(f"sum(rate(meters_ingest_readings_accepted_total[{RATE}]))"), "ops"),
        single("Readings stored /s", prom(f"sum(rate(meters_writer_readings_stored_total[{RATE}]))"), "ops"),
        single("Open critical alerts", prom('sum(meters_alerts_open{severity="critical"})')),
        single("Registered meters", prom("max(meters_ingest_known_meters)")),
        single("Transformers over rating", prom('sum(meters_transformers_by_load_band{band="over_100"})')),
        single("Transformers at 80-100 % of rating", prom('sum(meters_transformers_by_load_band{band="80_100"})')),
        single("Highest transformer load", prom("max(meters_transformer_load_ratio_max)"), "percentunit"),
        single("Readings outside 210-250 V", prom(OUTSIDE_BAND), "percent"),
        graph("Ingest throughput",
              prom(f"sum(rate(meters_ingest_readings_accepted_total[{RATE}]))", "accepted", "A"),
              prom(f"sum(rate(meters_writer_readings_stored_total[{RATE}]))", "stored", "B"),
              prom(f"sum by (reason) (rate(meters_ingest_readings_rejected_total[{RATE}]))", "rejected {{reason}}",
                   "C"), unit="ops"),
        graph("Kafka consumer lag", prom("sum by (group) (meters_kafka_consumer_lag_messages)", "{{group}}")),
        graph("Open alerts by severity", prom("sum by (severity) (meters_alerts_open)", "{{severity}}")),
        graph("Server errors by service", prom(
            f'sum by (grpc_service) (rate(grpc_server_handled_total{{grpc_code!="OK"}}[{RATE}]))',
            "{{grpc_service}}"), unit="ops"),
        graph("Network demand (MW)", Sql("""SELECT $__timeGroupAlias(reading_time, '15m'), sum(demand_kw) / 1000 AS mw
              FROM meters.meter_readings WHERE $__timeFilter(reading_time) GROUP BY 1 ORDER BY 1""",
                                         "time_series"), unit="MW", w=24, ds=PG),
    ], description="Network-wide health: ingest, storage, alerts, demand.")


def substation_status():
    return dashboard("meters-substation-status", "Substation Status", "1m", [
        graph("Alerts raised by severity", prom(f"sum by (severity) (rate(meters_alerts_raised_total[{RATE}]))",
                                                 "{{severity}}"), unit="ops"),
        graph("Alerts per substation (24 h)", Sql("""SELECT $__timeGroupAlias(detected_at, '1h'),
              'substation ' || asset_id AS metric, count(*) AS alerts FROM alerts.alerts
              WHERE asset_type = 'substation' AND $__timeFilter(detected_at) GROUP BY 1, 2 ORDER BY 1""",
                                                  "time_series"), ds=PG),
        grid("Substation capacity and load", Sql("""SELECT s.id, s.name, s.region, s.status, s.capacity_mva,
              count(t.id) AS transformers, sum(t.capacity_kva) / 1000 AS transformer_mva,
              sum(t.current_load_kva) / 1000 AS load_mva,
              round((100 * sum(t.current_load_kva) / nullif(s.capacity_mva * 1000, 0))::numeric, 1) AS load_pct,
              count(*) FILTER (WHERE t.status <> 'operational') AS transformers_not_operational
              FROM grid.substations s LEFT JOIN grid.transformers t ON t.substation_id = s.id
              GROUP BY s.id ORDER BY load_pct DESC NULLS LAST""")),
        grid("Open substation alerts", Sql(open_alerts_sql("asset_type = 'substation'"))),
    ], time_from="now-24h", description="Capacity and alerts by substation.")


def transformer_health():
    return dashboard("meters-transformer-health", "Transformer Health", "1m", [
        graph("Transformers by load band (share of rating)",
              prom("sum by (band) (meters_transformers_by_load_band)", "{{band}}")),
        graph("Highest transformer load by region", prom("max by (region) (meters_transformer_load_ratio_max)",
                                                         "{{region}}"), unit="percentunit"),
        graph("Most loaded substations (highest transformer)", prom(
            "topk(10, meters_transformer_load_ratio_max)", "substation {{substation_id}} ({{region}})"),
              unit="percentunit", w=24),
        graph("Transformer demand from its meters (kW)", Sql("""SELECT $__timeGroupAlias(r.reading_time, '15m'),
              'T-' || m.transformer_id AS metric, sum(r.demand_kw) AS kw
              FROM meters.meter_readings r JOIN meters.smart_meters m ON m.id = r.meter_id
              WHERE $__timeFilter(r.reading_time) AND m.transformer_id IS NOT NULL
              GROUP BY 1, 2 ORDER BY 1""", "time_series"), unit="kwatt", w=24, ds=PG),
        grid("Busiest transformers (last hour)", Sql("""SELECT m.transformer_id, count(DISTINCT m.id) AS meters,
              max(s.kw) AS peak_kw, avg(r.voltage) AS mean_voltage, avg(r.power_factor) AS mean_pf
              FROM meters.meter_readings r JOIN meters.smart_meters m ON m.id = r.meter_id
              JOIN (SELECT m2.transformer_id, r2.reading_time, sum(r2.demand_kw) AS kw
                    FROM meters.meter_readings r2 JOIN meters.smart_meters m2 ON m2.id = r2.meter_id
                    WHERE r2.reading_time > now() - interval '1 hour' GROUP BY 1, 2) s
                ON s.transformer_id = m.transformer_id AND s.reading_time = r.reading_time
              WHERE r.reading_time > now() - interval '1 hour'
              GROUP BY 1 ORDER BY peak_kw DESC LIMIT 50""")),
        graph("Oil temperature (C), hottest transformers", Sql("""SELECT hour_end AS "time",
              'T-' || transformer_id AS metric, oil_temp_c FROM grid.transformer_telemetry
              WHERE $__timeFilter(hour_end) AND transformer_id IN (SELECT transformer_id FROM grid.transformer_telemetry
                WHERE $__timeFilter(hour_end) GROUP BY 1 ORDER BY max(oil_temp_c) DESC NULLS LAST LIMIT 10)
              ORDER BY 1""", "time_series"), unit="celsius", ds=PG),
        graph("Efficiency, fleet mean", Sql("""SELECT $__timeGroupAlias(hour_end, '1h'), avg(efficiency) AS efficiency
              FROM grid.transformer_telemetry WHERE $__timeFilter(hour_end) GROUP BY 1 ORDER BY 1""",
                                             "time_series"), unit="percentunit", ds=PG),
        grid("Transformers by load ratio", Sql("""SELECT id, transformer_number, substation_id, status, capacity_kva,
              current_load_kva, round((current_load_kva / capacity_kva)::numeric, 3) AS load_ratio, oil_temp_c,
              efficiency, age_years, last_maintenance_at FROM grid.transformers
              ORDER BY current_load_kva / capacity_kva DESC NULLS LAST LIMIT 100""")),
        grid("Failure predictions at risk (48-72 h)", Sql("""SELECT DISTINCT ON (asset_id) asset_id AS transformer_id,
              probability, confidence, predicted_at, valid_until, model_version, top_features
              FROM ml.predictions WHERE prediction_type = 'transformer_failure' AND at_risk
                AND (valid_until IS NULL OR valid_until > now())
              ORDER BY asset_id, predicted_at DESC""")),
        grid("Open transformer alerts", Sql(open_alerts_sql("asset_type = 'transformer'"))),
    ], description="Thermal, load and efficiency of distribution transformers.")


def power_quality():
    return dashboard("meters-power-quality", "Power Quality", "30s", [
        voltage_heatmap("Voltage distribution of accepted readings (V)"),
        graph("Voltage percentiles of accepted readings (V)",
              *[prom(f"histogram_quantile({q}, sum by (le) (rate({VOLT_BUCKET}[{RATE}])))", f"p{round(q * 100)}",
                     ref) for q, ref in ((0.05, "A"), (0.5, "B"), (0.95, "C"))], unit="volt"),
        graph("Accepted readings outside 210-250 V (%)", prom(OUTSIDE_BAND, "outside 210-250 V"), unit="percent"),
        graph("Voltage (V): min, mean, max", Sql("""SELECT $__timeGroupAlias(reading_time, '15m'),
              min(voltage) AS min_v, avg(voltage) AS mean_v, max(voltage) AS max_v
              FROM meters.meter_readings WHERE $__timeFilter(reading_time) GROUP BY 1 ORDER BY 1""",
                                                 "time_series"), unit="volt", ds=PG),
        graph("Power factor (mean)", Sql("""SELECT $__timeGroupAlias(reading_time, '15m'), avg(power_factor) AS pf
              FROM meters.meter_readings WHERE $__timeFilter(reading_time) GROUP BY 1 ORDER BY 1""",
                                         "time_series"), ds=PG),
        graph("Readings within the voltage band (%)", Sql("""SELECT $__timeGroupAlias(bucket, '15m'),
              100.0 * sum(within_band) / nullif(sum(readings), 0) AS within_band_pct
              FROM grid.voltage_stats WHERE $__timeFilter(bucket) GROUP BY 1 ORDER BY 1""", "time_series"),
              unit="percent", ds=PG),
        graph("Voltage warnings by transformer (top 10)", Sql("""SELECT $__timeGroupAlias(bucket, '1h'),
              'T-' || transformer_id AS metric, sum(warnings) AS warnings FROM grid.voltage_stats
              WHERE $__timeFilter(bucket) AND transformer_id IN (SELECT transformer_id FROM grid.voltage_stats
                WHERE $__timeFilter(bucket) GROUP BY 1 ORDER BY sum(warnings) DESC LIMIT 10)
              GROUP BY 1, 2 ORDER BY 1""", "time_series"), ds=PG),
        graph("Quality flags /s", prom(f"sum by (flag) (rate(meters_ingest_quality_warnings_total[{RATE}]))",
                                       "{{flag}}"), unit="ops"),
        graph("Rejections by reason /s", prom(
            f"sum by (reason) (rate(meters_ingest_readings_rejected_total[{RATE}]))", "{{reason}}"), unit="ops"),
        grid("Share of readings with a quality flag", Sql("""SELECT quality_flag, count(*) AS readings,
              round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS percent
              FROM meters.readings WHERE $__timeFilter(reading_time) GROUP BY 1 ORDER BY 2 DESC"""), w=12, h=8),
        grid("Latest rejected readings", Sql("""SELECT received_at, meter_id, reason, detail
              FROM meters.rejected_readings ORDER BY received_at DESC LIMIT 100"""), w=12, h=8),
    ], description="Voltage and power factor; ANSI C84.1 Range A is 228-252 V on a 240 V service.")


def anomaly_tracker():
    return dashboard("meters-anomaly-tracker", "Anomaly Tracker", "30s", [
        single("Open alerts", prom("sum(meters_alerts_open)")),
        single("Alerts raised (1 h)", prom("sum(increase(meters_alerts_raised_total[1h]))")),
        single("Repeats folded (1 h)", prom("sum(increase(meters_alerts_repeated_total[1h]))")),
        single("Notifications pending", prom("sum(meters_alert_outbox_pending)")),
        graph("Anomalous readings by type /s (stream)", prom(
            f"sum by (anomaly_type) (rate(meters_scoring_anomalies_total[{RATE}]))", "{{anomaly_type}}"), unit="ops"),
        graph("Model inference latency (p50, p99)",
              prom(f"histogram_quantile(0.5, sum by (model, le) (rate(meters_scoring_model_seconds_bucket[{RATE}])))",
                   "p50 {{model}}", "A"),
              prom(f"histogram_quantile(0.99, sum by (model, le) (rate(meters_scoring_model_seconds_bucket[{RATE}])))",
                   "p99 {{model}}", "B"), unit="s"),
        graph("Readings scored /s", prom(f"sum by (path) (rate(meters_scoring_readings_scored_total[{RATE}]))",
                                         "{{path}}"), unit="ops"),
        graph("Alerts raised by source", prom(f"sum by (source) (rate(meters_alerts_raised_total[{RATE}]))",
                                              "{{source}}"), unit="ops"),
        graph("Notifications by channel", prom(
            f"sum by (channel) (rate(meters_alert_notifications_delivered_total[{RATE}]))", "delivered {{channel}}",
            "A"), prom(f"sum by (channel) (rate(meters_alert_notifications_failed_total[{RATE}]))",
                       "failed {{channel}}", "B"), unit="ops"),
        graph("Anomalous readings by type", Sql("""SELECT $__timeGroupAlias(predicted_at, '1h'),
              coalesce(anomaly_type, 'unknown') AS metric, count(*) AS anomalies FROM ml.predictions
              WHERE prediction_type = 'reading_anomaly' AND at_risk AND $__timeFilter(predicted_at)
              GROUP BY 1, 2 ORDER BY 1""", "time_series"), w=24, ds=PG),
        grid("Active anomalies and alerts", Sql(open_alerts_sql("true"))),
        grid("Latest anomalous readings", Sql("""SELECT predicted_at, asset_id AS meter_id, anomaly_type, severity,
              probability, model_version FROM ml.predictions
              WHERE prediction_type = 'reading_anomaly' AND at_risk ORDER BY predicted_at DESC LIMIT 100""")),
    ], description="Active anomalies and the alerts they raised, with notification health.")


def demand_forecast():
    return dashboard("meters-demand-forecast", "Demand Forecast", "15m", [
        graph("Network demand: latest forecast with interval, and actuals (MW)", Sql("""SELECT f."timestamp" AS "time",
              f.predicted_demand_mw AS forecast_mw, f.confidence_lower AS lower_mw, f.confidence_upper AS upper_mw
              FROM forecast.demand_forecasts f
              WHERE f.run_id = (SELECT max(id) FROM forecast.forecast_runs WHERE scope = 1)
                AND $__timeFilter(f."timestamp") ORDER BY 1""", "time_series"),
              Sql("""SELECT step_end AS "time", demand_mw AS actual_mw FROM forecast.demand_actuals
              WHERE scope = 1 AND $__timeFilter(step_end) ORDER BY 1""", "time_series", "B"),
              unit="MW", w=24, ds=PG),
        grid("Forecast accuracy: share of steps within 5 % (day-ahead)", Sql("""SELECT date_trunc('day', "timestamp") AS day,
              count(*) AS steps, round((100.0 * avg((abs(predicted_demand_mw - actual_demand_mw)
                <= 0.05 * actual_demand_mw)::int))::numeric, 1) AS within_5pct,
              round((100 * avg(abs(predicted_demand_mw - actual_demand_mw) / nullif(actual_demand_mw, 0)))::numeric, 2)
                AS mape_pct
              FROM forecast.demand_forecasts WHERE actual_demand_mw IS NOT NULL AND horizon_hours <= 24
                AND $__timeFilter("timestamp") GROUP BY 1 ORDER BY 1 DESC"""), w=12),
        grid("Model versions", Sql("""SELECT version, status, serving, holdout_mape_percent, training_start,
              training_end, completed_at FROM forecast.model_versions ORDER BY created_at DESC LIMIT 20"""), w=12),
        graph("Network demand from readings (MW)", Sql("""SELECT $__timeGroupAlias(reading_time, '15m'),
              sum(demand_kw) / 1000 AS actual_mw FROM meters.meter_readings
              WHERE $__timeFilter(reading_time) GROUP BY 1 ORDER BY 1""", "time_series"), unit="MW", w=24, ds=PG),
        grid("Daily energy (MWh)", Sql("""SELECT date_trunc('day', reading_time) AS day,
              sum(consumption_kwh) / 1000 AS mwh, max(demand_kw) AS peak_meter_kw
              FROM meters.meter_readings WHERE $__timeFilter(reading_time) GROUP BY 1 ORDER BY 1 DESC""")),
    ], time_from="now-3d", description="24-72 h demand forecasts with their intervals, against measured demand.")


ENGAGEMENT, ENGAGEMENT_TARGET = "meters_customer_recommendation_engagement_ratio", 0.25
PARTICIPATION, PARTICIPATION_TARGET = "meters_customer_demand_response_participation_ratio", 0.20


def customer_segments():
    return dashboard("meters-customer-segments", "Customer Segments", "1h", [
        grid("Customers by segment", Sql("""SELECT coalesce(segment_id, 'unassigned') AS segment, count(*) AS customers,
              round(avg(segment_confidence)::numeric, 3) AS mean_confidence, round(avg(mean_daily_kwh)::numeric, 2)
                AS mean_daily_kwh, count(*) FILTER (WHERE solar_installed) AS solar,
              count(*) FILTER (WHERE ev_charging) AS ev, count(*) FILTER (WHERE demand_response_opted_in) AS dr_opted_in
              FROM customers.customers GROUP BY 1 ORDER BY 2 DESC"""), w=12),
        grid("Segmentation runs", Sql("""SELECT id, status, customers_assigned, adjusted_rand_index, model_version,
              created_at, completed_at FROM customers.segmentation_runs ORDER BY id DESC LIMIT 20"""), w=12),
        grid("Demand response events", Sql("""SELECT id, event_type, start_time, end_time, target_reduction_mw,
              actual_reduction_mw, customers_targeted, customers_participated, cancelled, dispatched_at, settled_at,
              total_credit_aud FROM customers.demand_response_events ORDER BY start_time DESC LIMIT 50"""), w=12),
        grid("Meters by type and status", Sql("""SELECT coalesce(meter_type, 'unknown') AS meter_type, status,
              count(*) AS meters FROM meters.smart_meters GROUP BY 1, 2 ORDER BY 3 DESC"""), w=12),
        grid("Open customer alerts", Sql(open_alerts_sql("asset_type = 'customer'")), w=12),
        graph("Monthly usage summaries used by segmentation runs (per day)",
              prom("sum by (source) (increase(meters_segmentation_months_total[1d]))", "{{source}}"), w=8),
        graph("Segmentation run duration (mean per day)",
              prom("increase(meters_segmentation_run_seconds_sum[1d]) / increase(meters_segmentation_run_seconds_count[1d])",
                   "mean"), unit="s", w=8),
        graph("Readings folded into hourly usage",
              prom("sum(rate(meters_customer_usage_readings_folded_total[$__rate_interval]))", "readings/s"), w=8),
        ratio_against_target("Recommendation engagement (accepted / delivered, target > 25 %)",
                             f"max({ENGAGEMENT})", ENGAGEMENT_TARGET),
        ratio_against_target("Demand response participation (participated / targeted, target > 20 %)",
                             f"max({PARTICIPATION})", PARTICIPATION_TARGET),
        graph("Delivered recommendations by status",
              prom("max by (status) (meters_customer_recommendations_delivered)", "{{status}}"), w=12),
        ratio_trend("Recommendation engagement against the 25 % target",
                    [prom(f"max({ENGAGEMENT})", "engagement")], ENGAGEMENT_TARGET),
        ratio_trend("Demand response participation against the 20 % target",
                    [prom(f"max({PARTICIPATION})", "participation")], PARTICIPATION_TARGET),
        grid("Recommendations by type and status", Sql("""SELECT recommendation_type, status, count(*) AS recommendations,
              round(avg(estimated_monthly_savings)::numeric, 2) AS mean_estimated_aud_month,
              round(avg((measurement->>'monthly_saving_aud')::float8)::numeric, 2) AS mean_measured_aud_month
              FROM customers.customer_recommendations GROUP BY 1, 2 ORDER BY 1, 2"""), w=12),
    ], time_from="now-7d", description="Segment distribution, segmentation runs, demand response, recommendation and "
                                       "DR engagement against the plan's targets, and the usage pipeline behind them.")


def model_lifecycle():
    """Scheduled training runs, shadow scores (forecast_svc/promotion.py) and decisions (docs/model-lifecycle.md)."""
    return dashboard("meters-model-lifecycle", "Model Lifecycle", "1m", [
        graph("Live MAPE against measured demand: promoted vs candidate in shadow (%)",
              prom("meters_model_live_mape_percent", "{{model}} {{role}}"), unit="percent", w=12),
        graph("Median time to answer: promoted vs shadow (s)",
              prom("meters_model_live_median_latency_seconds", "{{model}} {{role}}"), unit="s", w=6),
        graph("Steps scored in the rule's window (both answered)",
              prom("meters_model_live_scored_steps", "{{model}} {{role}}"), w=6),
        grid("Decisions: shadow, promote, refuse, rollback", Sql("""SELECT decided_at, model, action, from_version,
              to_version, evidence->>'reason' AS reason FROM model_registry.decisions
              ORDER BY id DESC LIMIT 50"""), w=24),
        grid("Training runs: data window, metrics, artifact digest", Sql("""SELECT finished_at, model, version, job,
              status, data_start, data_end, data_rows, metrics::text AS metrics, left(artifact_sha256, 16) AS artifact,
              error_message FROM model_registry.runs ORDER BY id DESC LIMIT 50"""), w=24),
    ], time_from="now-7d", description="Each model's scheduled runs, the forecast candidate's live score beside the"
                                       " promoted model's, and the promotion rule's decisions.")


DASHBOARDS = [grid_overview, substation_status, transformer_health, power_quality, anomaly_tracker,
              demand_forecast, customer_segments, model_lifecycle]


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    out = {}
    for make in DASHBOARDS:
        built = make().build()
        out[f"{built.uid}.json"] = json.dumps(built, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m observability.grafana.build", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if dashboards/ differs from the generator")
    args = parser.parse_args()
    rendered = render_all()
    if args.check:
        stale = [n for n, text in rendered.items() if not (OUT / n).exists() or (OUT / n).read_text() != text]
        extra = [p.name for p in OUT.glob("*.json") if p.name not in rendered]
        if stale or extra:
            print(f"out of date: {stale}, not generated: {extra}", file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(exist_ok=True)
    for name, text in rendered.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(rendered)} dashboards to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
