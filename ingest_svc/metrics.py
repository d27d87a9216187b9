from prometheus_client import Counter, Gauge

from meters.metrics import BulkHistogram

READINGS_ACCEPTED = Counter("meters_ingest_readings_accepted_total", "Readings accepted and published to Kafka.")
READINGS_REJECTED = Counter(
    "meters_ingest_readings_rejected_total", "Readings rejected by ingest validation, by reason.", ["reason"]
)
QUALITY_WARNINGS = Counter("meters_ingest_quality_warnings_total", "Accepted readings with a quality flag.", ["flag"])
READINGS_STORED = Counter("meters_writer_readings_stored_total", "Readings committed to PostgreSQL by the writer.")
WRITER_RESTARTS = Counter("meters_writer_restarts_total", "Writer consumer restarts after a Kafka or database error.")
REJECTIONS_STORED = Counter("meters_writer_rejections_stored_total", "Rejected readings stored by the writer.")
READINGS_REFUSED = Counter(
    "meters_writer_readings_refused_total",
    "Readings ingest accepted that the writer kept as rejected: outside the retention window when written.", ["reason"],
)
DUPLICATES_SKIPPED = Counter(
    "meters_writer_duplicate_readings_total", "Readings already stored (replays and re-sends), by whether values differ.",
    ["kind"],
)
READINGS_REPLACED = Counter(
    "meters_writer_readings_replaced_total",
    "Stored readings replaced by a later version (MDFF UpdateDateTime) or by an actual for a substitute.",
)
CONSUMER_LAG = Gauge("meters_kafka_consumer_lag_messages", "Messages behind the log end, by group and partition.",
                     ["group", "topic", "partition"])
KNOWN_METERS = Gauge("meters_ingest_known_meters", "Meters in the ingest registry.")
# Every accepted reading's voltage, observed per batch. Edges: the validation range (180-280 V), the
# plan's warning limits (210, 250 V) and ANSI C84.1 Range A on a 240 V service (228-252 V).
READING_VOLTAGE = BulkHistogram(
    "meters_ingest_reading_voltage_volts", "Voltage of accepted readings.",
    (180, 190, 200, 207, 210, 216, 220, 228, 232, 236, 240, 244, 248, 250, 252, 256, 260, 270, 280),
)
# Every accepted reading's frequency where reported, observed per batch. Edges: the Frequency Operating
# Standard's bands (normal 49.85-50.15 Hz, excursion 49.75-50.25, contingency 49.5-50.5, operational
# tolerance 49-51 Hz) and finer steps inside the normal band.
READING_FREQUENCY = BulkHistogram(
    "meters_ingest_reading_frequency_hertz", "Power frequency of accepted readings that report it.",
    (49.0, 49.5, 49.75, 49.85, 49.9, 49.95, 49.98, 50.0, 50.02, 50.05, 50.1, 50.15, 50.25, 50.5, 51.0),
)
