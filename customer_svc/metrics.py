"""customer_svc's Prometheus metrics (docs/metrics.md)."""

from prometheus_client import Counter, Gauge, Histogram

USAGE_READINGS_FOLDED = Counter("meters_customer_usage_readings_folded_total",
                                "Readings folded into hourly usage by the `customer` consumer group.")
SEGMENTATION_MONTHS = Counter(
    "meters_segmentation_months_total",
    "Monthly usage summaries segmentation runs used, by source: stored (reused), folded (finished from the"
    " month's running summary) or summarised (missing or stale, from all its hourly usage).",
    ["source"])
# The open month's running summary (month_fold.py), folded as local days close.
SUMMARY_DAYS_FOLDED = Counter("meters_customer_month_fold_dates_total",
                              "Local days folded from hourly usage into the open month's running summary.")
SUMMARY_REFOLDED_CUSTOMERS = Counter(
    "meters_customer_month_refolded_customers_total",
    "Customers whose already folded days were summarised again from hourly usage (late usage, weather, registry).")
SUMMARY_FOLD_SECONDS = Histogram("meters_customer_month_fold_seconds", "Duration of the fold job's folds.",
                                 buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600))
SEGMENTATION_RUN_SECONDS = Histogram("meters_segmentation_run_seconds", "Duration of successful segmentation runs.",
                                     buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800))

# The plan's customer engagement targets (customer_svc/engagement.py; NaN until there is a figure).
RECOMMENDATION_ENGAGEMENT = Gauge(
    "meters_customer_recommendation_engagement_ratio",
    "Recommendations accepted (then possibly measured) / recommendations delivered, all time. Plan target > 0.25.")
RECOMMENDATIONS_DELIVERED = Gauge(
    "meters_customer_recommendations_delivered", "Delivered recommendations by where they stand now.", ["status"])
DR_PARTICIPATION = Gauge(
    "meters_customer_demand_response_participation_ratio",
    "Customers who reduced demand / customers targeted, over measured demand response events. Plan target > 0.20.")
RECOMMENDATION_ENGAGEMENT.set(float("nan"))
DR_PARTICIPATION.set(float("nan"))
for _status in ("sent", "accepted", "dismissed", "measured"):
    RECOMMENDATIONS_DELIVERED.labels(_status)

for _source in ("stored", "folded", "summarised"):  # series from start, at 0
    SEGMENTATION_MONTHS.labels(_source)
