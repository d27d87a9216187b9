from prometheus_client import Counter, Gauge, Histogram

ALERTS_RAISED = Counter("meters_alerts_raised_total", "New alerts raised, by severity and source.",
                        ["severity", "source"])
ALERTS_REPEATED = Counter("meters_alerts_repeated_total",
                          "CreateAlert calls folded into an unresolved alert with the same dedup_key, by severity.",
                          ["severity"])
ALERTS_RESOLVED = Counter("meters_alerts_resolved_total", "Alerts resolved, by severity.", ["severity"])
ALERTS_OPEN = Gauge("meters_alerts_open", "Unresolved (open or acknowledged) alerts, by severity.", ["severity"])
NOTIFICATIONS_DELIVERED = Counter("meters_alert_notifications_delivered_total",
                                  "Notifications delivered, by channel.", ["channel"])
NOTIFICATIONS_FAILED = Counter("meters_alert_notifications_failed_total",
                               "Notification attempts that failed (to be retried), by channel.", ["channel"])
OUTBOX_PENDING = Gauge("meters_alert_outbox_pending", "Notifications waiting in the outbox, by channel.", ["channel"])
ESCALATIONS = Counter("meters_alert_escalations_total",
                      "Escalation steps taken (an alert left unacknowledged past its tier's window), by severity and tier.",
                      ["severity", "tier"])
DELIVERY_SECONDS = Histogram("meters_alert_notification_seconds", "Time of one delivery attempt, by channel.",
                             ["channel"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

# Pre-create every label value so dashboards and rules see zero rather than no series.
for _sev in ("info", "warning", "critical"):
    ALERTS_REPEATED.labels(_sev)
    ALERTS_RESOLVED.labels(_sev)
    ALERTS_OPEN.labels(_sev).set(0)
for _channel in ("pagerduty", "teams", "email", "servicenow"):
    NOTIFICATIONS_DELIVERED.labels(_channel)
    NOTIFICATIONS_FAILED.labels(_channel)
    OUTBOX_PENDING.labels(_channel).set(0)
