-- Rejected readings in daily partitions of received_at, so that the retention job drops them a whole
-- day at a time like meter_readings (received_at, not reading_time: a reading refused as too old is
-- evidence kept for the window from when it arrived; and reading_time may be NULL). received_at is
-- part of every unique key, as PostgreSQL requires; a Kafka position always comes with the same
-- received_at (the message's time), so the keys say what they said before.
-- The writer creates partitions as rows need them (meters/partitions.py), for meter_readings too:
-- the range function below created every day between the oldest and newest reading of a batch.
DROP FUNCTION meters.ensure_reading_partitions(DATE, DATE);

-- Same columns and NOT NULLs; not the old id default, whose sequence goes with the old table.
CREATE TABLE meters.rejected_readings_daily (LIKE meters.rejected_readings) PARTITION BY RANGE (received_at);

DO $$
DECLARE
  day DATE;
BEGIN
  FOR day IN SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::DATE FROM meters.rejected_readings LOOP
    EXECUTE format(
      'CREATE TABLE meters.%I PARTITION OF meters.rejected_readings_daily FOR VALUES FROM (%L) TO (%L)',
      'rejected_readings_' || to_char(day, 'YYYYMMDD'),
      day::TIMESTAMP AT TIME ZONE 'UTC', (day + 1)::TIMESTAMP AT TIME ZONE 'UTC');
  END LOOP;
END
$$;

INSERT INTO meters.rejected_readings_daily SELECT
  id, meter_id, reading_time, consumption_kwh, demand_kw, voltage, current_amps, power_factor, reason, detail,
  received_at, source_topic, kafka_partition, kafka_offset, row_index
FROM meters.rejected_readings;

CREATE SEQUENCE meters.rejected_readings_id OWNED BY meters.rejected_readings_daily.id;
DO $$
BEGIN
  PERFORM setval('meters.rejected_readings_id', coalesce(max(id), 0) + 1, false) FROM meters.rejected_readings;
END
$$;
ALTER TABLE meters.rejected_readings_daily ALTER COLUMN id SET DEFAULT nextval('meters.rejected_readings_id');

DROP TABLE meters.rejected_readings;
ALTER TABLE meters.rejected_readings_daily RENAME TO rejected_readings;
ALTER TABLE meters.rejected_readings ADD CONSTRAINT rejected_readings_pkey PRIMARY KEY (id, received_at);
ALTER TABLE meters.rejected_readings ADD CONSTRAINT rejected_readings_kafka_position_key
  UNIQUE (source_topic, kafka_partition, kafka_offset, row_index, received_at);
CREATE INDEX rejected_readings_meter_idx ON meters.rejected_readings (meter_id, reading_time);
CREATE INDEX rejected_readings_reason_idx ON meters.rejected_readings (reason, received_at DESC);
