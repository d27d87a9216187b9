from prometheus_client import Counter, Gauge, Histogram

READINGS_SCORED = Counter("meters_scoring_readings_scored_total", "Readings scored, by path (stream or rpc).",
                          ["path"])
ANOMALIES = Counter("meters_scoring_anomalies_total", "Anomalous readings found, by anomaly type.", ["anomaly_type"])
PREDICTIONS_STORED = Counter("meters_scoring_predictions_stored_total", "Predictions written to ml.predictions.",
                             ["prediction_type"])
SCORE_SECONDS = Histogram("meters_scoring_model_seconds", "Time in the model per call, by model.", ["model"],
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))
ALERTS_SENT = Counter("meters_scoring_alerts_sent_total", "Alerts accepted by alert_svc.")
ALERT_SEND_FAILURES = Counter("meters_scoring_alert_send_failures_total", "Failed passes over the alert outbox.")
ALERT_OUTBOX = Gauge("meters_scoring_alert_outbox", "Alerts waiting in the outbox (0 after a full drain).")
CONSUMER_LAG = Gauge("meters_scoring_consumer_lag_messages", "Messages behind the log end, by partition.",
                     ["partition"])
CONSUMER_RESTARTS = Counter("meters_scoring_consumer_restarts_total",
                            "Times the stream consumer failed and was restarted from the committed offsets.")
