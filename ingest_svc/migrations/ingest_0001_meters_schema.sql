-- The ingest service owns the `meters` schema: the meter registry, every
-- stored reading, and every rejected reading with its reason.
CREATE SCHEMA IF NOT EXISTS meters;

CREATE TABLE meters.smart_meters (
  id BIGINT PRIMARY KEY,
  meter_number VARCHAR(50) UNIQUE NOT NULL,
  customer_id BIGINT,
  transformer_id BIGINT,
  meter_type VARCHAR(30),
  status VARCHAR(20) NOT NULL DEFAULT 'active',
  installed_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX smart_meters_transformer_idx ON meters.smart_meters (transformer_id);

-- Floats rather than the plan's DECIMALs: meters report 3 decimals, and float
-- columns keep binary COPY a fixed-width memcpy (docs/decisions.md).
-- quality_flag holds meters.ingest.v1.QualityFlag: 1 normal, 2 voltage_warning, 3 pf_warning.
DO $$
DECLARE
  columns CONSTANT TEXT := '(
    meter_id BIGINT NOT NULL,
    reading_time TIMESTAMPTZ NOT NULL,
    consumption_kwh DOUBLE PRECISION NOT NULL,
    demand_kw DOUBLE PRECISION NOT NULL,
    voltage DOUBLE PRECISION NOT NULL,
    current_amps DOUBLE PRECISION NOT NULL,
    power_factor DOUBLE PRECISION NOT NULL,
    quality_flag SMALLINT NOT NULL,
    PRIMARY KEY (meter_id, reading_time))';
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
     AND current_setting('shared_preload_libraries') LIKE '%timescaledb%' THEN
    CREATE EXTENSION IF NOT EXISTS timescaledb;
    EXECUTE 'CREATE TABLE meters.meter_readings ' || columns;
    PERFORM create_hypertable('meters.meter_readings', 'reading_time',
                              chunk_time_interval => INTERVAL '1 day');
  ELSE
    EXECUTE 'CREATE TABLE meters.meter_readings ' || columns || ' PARTITION BY RANGE (reading_time)';
  END IF;
END
$$;

-- Daily partitions, created on demand by the writer (a no-op under TimescaleDB,
-- which makes its own chunks). The advisory lock serialises concurrent writers.
CREATE FUNCTION meters.ensure_reading_partitions(first_day DATE, last_day DATE)
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
  day DATE;
  part TEXT;
  created INTEGER := 0;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_partitioned_table
                 WHERE partrelid = 'meters.meter_readings'::regclass) THEN
    RETURN 0;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('meters.ensure_reading_partitions'));
  FOR day IN SELECT generate_series(first_day, last_day, INTERVAL '1 day')::DATE LOOP
    part := 'meter_readings_' || to_char(day, 'YYYYMMDD');
    IF to_regclass('meters.' || part) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE meters.%I PARTITION OF meters.meter_readings FOR VALUES FROM (%L) TO (%L)',
        part, day::TIMESTAMP AT TIME ZONE 'UTC', (day + 1)::TIMESTAMP AT TIME ZONE 'UTC');
      created := created + 1;
    END IF;
  END LOOP;
  RETURN created;
END
$$;

-- Rejected readings keep the values exactly as received (NaN included): those
-- ingest refused, and those the writer found conflicting with a stored reading.
-- The Kafka position of each row makes a replayed message a no-op.
CREATE TABLE meters.rejected_readings (
  id BIGSERIAL PRIMARY KEY,
  meter_id BIGINT NOT NULL,
  reading_time TIMESTAMPTZ,
  consumption_kwh DOUBLE PRECISION,
  demand_kw DOUBLE PRECISION,
  voltage DOUBLE PRECISION,
  current_amps DOUBLE PRECISION,
  power_factor DOUBLE PRECISION,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  received_at TIMESTAMPTZ NOT NULL,
  source_topic TEXT NOT NULL,
  kafka_partition INTEGER NOT NULL,
  kafka_offset BIGINT NOT NULL,
  row_index INTEGER NOT NULL,
  UNIQUE (source_topic, kafka_partition, kafka_offset, row_index)
);
CREATE INDEX rejected_readings_meter_idx ON meters.rejected_readings (meter_id, reading_time);
CREATE INDEX rejected_readings_reason_idx ON meters.rejected_readings (reason, received_at DESC);

-- For people and dashboards: the quality flag as the plan's text.
CREATE VIEW meters.readings AS
SELECT meter_id, reading_time, consumption_kwh, demand_kw, voltage, current_amps, power_factor,
       CASE quality_flag WHEN 2 THEN 'voltage_warning' WHEN 3 THEN 'pf_warning' ELSE 'normal' END
         AS quality_flag
FROM meters.meter_readings;
