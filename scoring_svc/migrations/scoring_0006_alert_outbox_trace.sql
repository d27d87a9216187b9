-- depends: scoring_0005_telemetry_energy
-- The W3C traceparent of the work that raised an outbox row (meters/tracing.py), so that its delivery to
-- alert_svc continues the same trace: ingest call -> Kafka -> scoring -> outbox -> CreateAlert. NULL when
-- tracing is off or the work was not traced.
ALTER TABLE ml.alert_outbox ADD COLUMN traceparent TEXT;
