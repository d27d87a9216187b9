"""customer_svc's Prometheus metrics (docs/metrics.md)."""

from prometheus_client import Counter, Histogram

USAGE_READINGS_FOLDED = Counter("meters_customer_usage_readings_folded_total",
                                "Readings folded into hourly usage by the `customer` consumer group.")
SEGMENTATION_MONTHS = Counter(
    "meters_segmentation_months_total",
    "Monthly usage summaries segmentation runs used, by source: stored (reused) or summarised (missing or stale).",
    ["source"])
SEGMENTATION_RUN_SECONDS = Histogram("meters_segmentation_run_seconds", "Duration of successful segmentation runs.",
                                     buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800))

for _source in ("stored", "summarised"):  # series from start, at 0
    SEGMENTATION_MONTHS.labels(_source)
