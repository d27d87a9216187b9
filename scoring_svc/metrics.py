"""scoring_svc's Prometheus metrics (docs/metrics.md), and the grid gauges refreshed from its tables.

Labelled series that a dashboard or rule reads are created at start (zero) for every label value
known in advance (anomaly types, models, load bands), so a query answers 0 rather than nothing
before the first event.
"""

import asyncio
import logging

from prometheus_client import Counter, Gauge, Histogram

from meters.scoring.v1.score_pb2 import AnomalyType

log = logging.getLogger(__name__)

READINGS_SCORED = Counter("meters_scoring_readings_scored_total", "Readings scored, by path (stream or rpc).",
                          ["path"])
ANOMALIES = Counter("meters_scoring_anomalies_total",
                    "Anomalous readings found in the stream (new predictions; replays not counted), by anomaly type.",
                    ["anomaly_type"])
# Model drift: the share of streamed readings the anomaly model flags (flagged / scored, both counting a
# replayed poll alike) against the share it flagged on its own calibration data when trained.
READINGS_FLAGGED = Counter("meters_scoring_readings_flagged_total",
                           "Streamed readings the anomaly model scored at or above its threshold (replays included,"
                           " as in meters_scoring_readings_scored_total{path=\"stream\"}).")
ANOMALY_BASELINE = Gauge("meters_scoring_anomaly_baseline_flag_ratio",
                         "Share of readings the served anomaly model flagged on its calibration data at training"
                         " (its manifest's calibration_flag_rate); absent when the model has none.",
                         ["model_version"])
PREDICTIONS_STORED = Counter("meters_scoring_predictions_stored_total", "Predictions written to ml.predictions.",
                             ["prediction_type"])
SCORE_SECONDS = Histogram("meters_scoring_model_seconds",
                          "Time in the model (inference only) per call, by model (anomaly, failure).", ["model"],
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))
ALERTS_SENT = Counter("meters_scoring_alerts_sent_total", "Alerts accepted by alert_svc.")
ALERT_SEND_FAILURES = Counter("meters_scoring_alert_send_failures_total", "Failed passes over the alert outbox.")
ALERT_OUTBOX = Gauge("meters_scoring_alert_outbox", "Alerts waiting in the outbox (0 after a full drain).")
CONSUMER_LAG = Gauge("meters_scoring_consumer_lag_messages", "Messages behind the log end, by partition.",
                     ["partition"])
CONSUMER_RESTARTS = Counter("meters_scoring_consumer_restarts_total",
                            "Times the stream consumer failed and was restarted from the committed offsets.")

OUTAGE_EVENTS = Counter("meters_outage_events_total",
                        "Power-off / power-on events the outage detector took (used) or could not place (unknown_meter).",
                        ["outcome"])
OUTAGE_CHANGES = Counter("meters_outage_changes_total", "Outages the detector opened or restored.", ["change"])
OUTAGES_OPEN = Gauge("meters_outages_open", "Outages open now (customers off supply).")
OUTAGE_DETECTION_LAG = Histogram(
    "meters_outage_detection_seconds", "From an outage's last last gasp to the detector opening it (event time).",
    buckets=(1, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600))
for _outcome in ("used", "unknown_meter"):
    OUTAGE_EVENTS.labels(_outcome)
for _change in ("opened", "restored"):
    OUTAGE_CHANGES.labels(_change)

# Transformer load = latest telemetry load kVA / rated capacity kVA (grid.transformers). No per-transformer
# series (37,000 transformers at 1.2 M meters): counts per load band and region, and the highest ratio per
# substation (a few hundred substations).
LOAD_BANDS = ("under_50", "50_80", "80_100", "over_100", "no_data")
TRANSFORMERS_BY_LOAD_BAND = Gauge(
    "meters_transformers_by_load_band",
    "Transformers by latest load as a share of rating: under_50 (< 0.5), 50_80 (0.5-0.8), 80_100 (> 0.8 to 1.0),"
    " over_100 (> 1.0), no_data (no telemetry yet); by region.", ["region", "band"])
TRANSFORMER_LOAD_RATIO_MAX = Gauge(
    "meters_transformer_load_ratio_max",
    "Highest latest load kVA / rated kVA among a substation's transformers (1.0 = at rating).",
    ["region", "substation_id"])
GRID_GAUGES_AGE = Gauge("meters_scoring_grid_gauges_refreshed_timestamp_seconds",
                        "Unix time the transformer load gauges were last refreshed from grid.transformers.")


def set_anomaly_baseline(version: str, flag_rate: float | None) -> None:
    """The served anomaly model's baseline flag share: one series, of its version; none when unknown."""
    ANOMALY_BASELINE.clear()
    if flag_rate is not None:
        ANOMALY_BASELINE.labels(version).set(flag_rate)


for _name in AnomalyType.keys():
    if _name != "ANOMALY_TYPE_UNSPECIFIED":
        ANOMALIES.labels(_name.removeprefix("ANOMALY_TYPE_").lower())
for _model in ("anomaly", "failure"):
    SCORE_SECONDS.labels(_model)
for _path in ("stream", "rpc"):
    READINGS_SCORED.labels(_path)

_LOAD_SQL = """
    SELECT coalesce(x.region, s.region, 'unknown'), coalesce(x.substation_id::text, 'none'),
           CASE WHEN x.current_load_kva IS NULL THEN 'no_data'
                WHEN x.current_load_kva < 0.5 * x.capacity_kva THEN 'under_50'
                WHEN x.current_load_kva <= 0.8 * x.capacity_kva THEN '50_80'
                WHEN x.current_load_kva <= x.capacity_kva THEN '80_100'
                ELSE 'over_100' END,
           count(*), max(x.current_load_kva / x.capacity_kva)
    FROM grid.transformers x LEFT JOIN grid.substations s ON s.id = x.substation_id
    GROUP BY 1, 2, 3"""


def set_load_gauges(rows) -> None:
    """Set the load gauges from (region, substation, band, transformers, max ratio) rows; series of
    regions and substations no longer present are removed."""
    bands: dict[tuple[str, str], int] = {}
    peaks: dict[tuple[str, str], float] = {}
    for region, sub, band, count, ratio in rows:
        for b in LOAD_BANDS:
            bands.setdefault((region, b), 0)
        bands[(region, band)] += count
        if ratio is not None:
            peaks[(region, sub)] = max(peaks.get((region, sub), 0.0), float(ratio))
    if not bands:
        bands = {("unknown", b): 0 for b in LOAD_BANDS}
    for gauge, values in ((TRANSFORMERS_BY_LOAD_BAND, bands), (TRANSFORMER_LOAD_RATIO_MAX, peaks)):
        for labels, value in values.items():
            gauge.labels(*labels).set(value)
        for labels in _shown.get(gauge, set()) - values.keys():
            gauge.remove(*labels)
        _shown[gauge] = set(values)


_shown: dict[Gauge, set] = {}


set_load_gauges([])


class GridLoadGauges:
    """Refreshes the transformer load gauges from grid.transformers every `interval_s`, and soon
    after `wake()` (RecordTransformerTelemetry calls it). One aggregate query (~ms at 37k rows)."""

    def __init__(self, pool, interval_s: float = 30.0, settle_s: float = 0.5):
        self._pool = pool
        self._interval = interval_s
        self._settle = settle_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def refresh(self) -> None:
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(_LOAD_SQL)).fetchall()
        set_load_gauges(rows)
        GRID_GAUGES_AGE.set_to_current_time()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - stale gauges (see the timestamp), never a dead service
                log.warning("transformer load gauges not refreshed: %s", err)
            try:
                await asyncio.wait_for(self._wake.wait(), self._interval)
                await asyncio.sleep(self._settle)  # telemetry batches in a burst: one refresh for them
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
