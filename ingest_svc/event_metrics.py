"""Meter event counters (no meter identifiers in labels: reasons only)."""

from prometheus_client import Counter

EVENTS_ACCEPTED = Counter("meters_ingest_meter_events_accepted_total", "Meter events accepted and published to Kafka.")
EVENTS_REJECTED = Counter(
    "meters_ingest_meter_events_rejected_total", "Meter events rejected by ingest validation, by reason.", ["reason"]
)
EVENTS_STORED = Counter("meters_writer_meter_events_stored_total", "Meter events committed to PostgreSQL by the writer.")
EVENT_REJECTIONS_STORED = Counter(
    "meters_writer_meter_event_rejections_stored_total",
    "Rejected meter events stored by the writer, by reason (DUPLICATE_EVENT: resends of stored events).", ["reason"],
)
EVENT_WRITER_RESTARTS = Counter("meters_writer_meter_event_restarts_total",
                                "Meter event consumer restarts after a Kafka or database error.")
