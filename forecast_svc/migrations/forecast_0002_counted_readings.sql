-- Which meters' readings each step's actuals already hold, so a reading re-sent through ingest in
-- a new Kafka message is counted once (forecast_svc/counted.py): per step, the sorted meter ids,
-- delta-encoded and zlib-compressed. Locked and updated in the same transaction as the sums.
CREATE TABLE forecast.counted_readings (
  step_end TIMESTAMPTZ PRIMARY KEY,
  meter_ids BYTEA NOT NULL
);
