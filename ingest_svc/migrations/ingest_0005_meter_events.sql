-- Meter events (head-end alarms: last gasp, restore, cover open, tamper, ...) and the rejected ones.
-- Both in daily partitions (meters/partitions.py names them <table>_YYYYMMDD, created by the writer as
-- rows need them), so the ingest service's retention job drops them a day at a time like readings:
-- meter_events by event_time, rejected_meter_events by received_at (as rejected_readings).
--
-- Idempotency: (event_id, event_time) is unique, so a resend of a stored event adds no row; the writer
-- keeps it in rejected_meter_events as DUPLICATE_EVENT. The Kafka position of each stored event tells a
-- replay of its own message (after a writer crash: nothing to record) from a resend.
-- event_type holds meters.ingest.v1.MeterEventType (1 power off, 2 power on, 3 cover open, 4 tamper,
-- 5 reverse rotation, 6 clock error).
CREATE SEQUENCE meters.meter_events_id;
CREATE TABLE meters.meter_events (
  id BIGINT NOT NULL DEFAULT nextval('meters.meter_events_id'),
  event_id TEXT NOT NULL,
  meter_id BIGINT NOT NULL,
  event_type SMALLINT NOT NULL,
  event_time TIMESTAMPTZ NOT NULL,
  detail TEXT NOT NULL,
  ingested_at TIMESTAMPTZ NOT NULL,
  kafka_partition INTEGER NOT NULL,
  kafka_offset BIGINT NOT NULL,
  row_index INTEGER NOT NULL,
  PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time);
ALTER SEQUENCE meters.meter_events_id OWNED BY meters.meter_events.id;
CREATE INDEX meter_events_meter_idx ON meters.meter_events (meter_id, event_time, id);

-- As received: event_time and meter_id may be missing (0 / NULL), the type unknown.
CREATE TABLE meters.rejected_meter_events (
  event_id TEXT NOT NULL,
  meter_id BIGINT NOT NULL,
  event_type SMALLINT NOT NULL,
  event_time TIMESTAMPTZ,
  event_detail TEXT NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  received_at TIMESTAMPTZ NOT NULL,
  source_topic TEXT NOT NULL,
  kafka_partition INTEGER NOT NULL,
  kafka_offset BIGINT NOT NULL,
  row_index INTEGER NOT NULL,
  PRIMARY KEY (source_topic, kafka_partition, kafka_offset, row_index, received_at)
) PARTITION BY RANGE (received_at);
CREATE INDEX rejected_meter_events_meter_idx ON meters.rejected_meter_events (meter_id, event_time);
CREATE INDEX rejected_meter_events_reason_idx ON meters.rejected_meter_events (reason, received_at DESC);
