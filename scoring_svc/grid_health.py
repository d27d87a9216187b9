"""Grid health (plan GET /api/v1/analytics/grid-health) from what this service owns or receives:
transformers and their latest load and predictions (grid, ml), voltage quality of the scored
reading stream (grid.voltage_stats), and open alerts asked of alert_svc over gRPC."""

import datetime as dt
import logging
from collections import Counter

from google.protobuf.timestamp_pb2 import Timestamp

from meters.alert.v1 import alert_pb2, alert_service_pb2
from meters.scoring.v1 import grid_health_pb2, transformer_pb2
from scoring_svc.store import ScoringStore

log = logging.getLogger(__name__)
ALERT_SOURCES = (alert_pb2.ALERT_SOURCE_ANOMALY_DETECTION, alert_pb2.ALERT_SOURCE_FAILURE_PREDICTION)
MAX_ALERT_PAGES = 20


def _ts(t: dt.datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(t)
    return out


async def grid_health(store: ScoringStore, alert_stub, substation_id: int, window_minutes: int) -> grid_health_pb2.GridHealth:
    now = dt.datetime.now(dt.timezone.utc)
    start = now - dt.timedelta(minutes=window_minutes)
    scope = "AND x.substation_id = %(sub)s" if substation_id else ""
    params = {"sub": substation_id, "start": start, "end": now}
    async with store.pool.connection() as conn:
        tx = await (await conn.execute(f"""
            SELECT count(*),
                   avg(100 * x.current_load_kva / x.capacity_kva),
                   coalesce(max(100 * x.current_load_kva / x.capacity_kva), 0),
                   count(*) FILTER (WHERE x.current_load_kva > 0.8 * x.capacity_kva),
                   count(*) FILTER (WHERE x.current_load_kva > x.capacity_kva),
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM ml.predictions p
                       WHERE p.asset_type = 'transformer' AND p.asset_id = x.id AND p.at_risk
                         AND p.prediction_type = 'transformer_failure' AND p.valid_until > now()))
            FROM grid.transformers x WHERE true {scope}""", params)).fetchone()
        statuses = await (await conn.execute(
            f"SELECT status, count(*) FROM grid.transformers x WHERE true {scope} GROUP BY status", params)).fetchall()
        meters = (await (await conn.execute(
            f"SELECT count(*) FROM grid.meter_connections c JOIN grid.transformers x ON x.id = c.transformer_id"
            f" WHERE true {scope}" if substation_id else "SELECT count(*) FROM grid.meter_connections",
            params)).fetchone())[0]
        tx_join = "JOIN grid.transformers x ON x.id = s.transformer_id" if substation_id else ""
        volt = await (await conn.execute(f"""
            SELECT coalesce(sum(readings), 0), coalesce(sum(within_band), 0), coalesce(sum(warnings), 0),
                   sum(voltage_sum) / nullif(sum(readings), 0), min(voltage_min), max(voltage_max)
            FROM grid.voltage_stats s {tx_join}
            WHERE s.bucket >= %(start)s AND s.bucket < %(end)s {scope}""", params)).fetchone()
        # Meters reporting: the busiest 15-minute bucket's meter count (a meter reports once a bucket).
        reporting = (await (await conn.execute(f"""
            SELECT coalesce(max(n), 0) FROM (SELECT sum(meters) AS n FROM grid.voltage_stats s {tx_join}
              WHERE s.bucket >= %(start)s AND s.bucket < %(end)s {scope} GROUP BY s.bucket) b""",
            params)).fetchone())[0]
        anomaly_scope = ("AND EXISTS (SELECT 1 FROM grid.meter_connections c JOIN grid.transformers x"
                         " ON x.id = c.transformer_id WHERE c.meter_id = p.asset_id " + scope + ")") if substation_id else ""
        anomalies = (await (await conn.execute(f"""
            SELECT count(*) FROM ml.predictions p WHERE p.prediction_type = 'reading_anomaly'
              AND p.predicted_at >= %(start)s AND p.predicted_at < %(end)s {anomaly_scope}""", params)).fetchone())[0]

    readings, band, warnings, mean_v, min_v, max_v = volt
    health = grid_health_pb2.GridHealth(
        computed_at=_ts(now), window_start=_ts(start), window_end=_ts(now), substation_id=substation_id,
        transformer_count=tx[0], average_load_percent=float(tx[1] or 0.0), max_load_percent=float(tx[2]),
        high_load_transformers=tx[3], overloaded_transformers=tx[4], transformers_at_risk=tx[5],
        voltage_quality=grid_health_pb2.VoltageQuality(
            readings=readings, within_band_fraction=band / readings if readings else 0.0, voltage_warnings=warnings,
            mean_voltage_v=float(mean_v or 0.0), min_voltage_v=float(min_v or 0.0), max_voltage_v=float(max_v or 0.0)),
        anomalies_in_window=anomalies, meter_count=meters, reporting_meter_count=reporting,
    )
    for status, count in sorted(statuses, key=lambda r: r[0]):
        health.transformer_status_counts.add(
            status=transformer_pb2.TransformerStatus.Value("TRANSFORMER_STATUS_" + status.upper()), count=count)
    for severity, count in sorted((await open_alerts(alert_stub)).items()):
        health.active_alerts.add(severity=severity, count=count)
    return health


async def open_alerts(alert_stub) -> Counter:
    """Open alerts from anomaly detection and failure prediction by severity (empty if alert_svc is down)."""
    counts: Counter = Counter()
    try:
        for source in ALERT_SOURCES:
            token = ""
            for _ in range(MAX_ALERT_PAGES):
                page = await alert_stub.ListAlerts(alert_service_pb2.ListAlertsRequest(
                    page_size=1000, page_token=token, status=alert_pb2.ALERT_STATUS_OPEN, source=source), timeout=5)
                counts.update(a.severity for a in page.alerts)
                token = page.next_page_token
                if not token:
                    break
    except Exception as err:  # noqa: BLE001 - grid health still answers without alert counts
        log.warning("open alerts unavailable: %s", err)
        return Counter()
    return counts
