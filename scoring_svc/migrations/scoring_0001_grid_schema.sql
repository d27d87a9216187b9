-- Grid topology and telemetry, owned by scoring_svc (decision 5). Rows arrive only through the
-- ScoringService API (BatchCreateSubstations/Transformers/MeterConnections, RecordTransformerTelemetry)
-- and through the scoring of the meter-readings stream (grid.voltage_stats).
CREATE SCHEMA IF NOT EXISTS grid;

CREATE TABLE grid.substations (
  id BIGINT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  region VARCHAR(8),
  capacity_mva DOUBLE PRECISION,
  status VARCHAR(24) NOT NULL DEFAULT 'operational',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE grid.transformers (
  id BIGINT PRIMARY KEY,
  transformer_number VARCHAR(50) UNIQUE NOT NULL,
  substation_id BIGINT,
  region VARCHAR(8),
  capacity_kva DOUBLE PRECISION NOT NULL CHECK (capacity_kva > 0),
  current_load_kva DOUBLE PRECISION,
  oil_temp_c DOUBLE PRECISION,
  efficiency DOUBLE PRECISION,
  load_at TIMESTAMPTZ,
  status VARCHAR(24) NOT NULL DEFAULT 'operational'
    CHECK (status IN ('operational', 'degraded', 'maintenance', 'failed', 'maintenance_pending')),
  age_years DOUBLE PRECISION,
  last_maintenance_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX transformers_substation ON grid.transformers (substation_id, id);

-- Which transformer supplies each meter (ids as registered with ingest; no foreign keys across schemas).
CREATE TABLE grid.meter_connections (
  meter_id BIGINT PRIMARY KEY,
  transformer_id BIGINT NOT NULL
);
CREATE INDEX meter_connections_transformer ON grid.meter_connections (transformer_id);

-- Hourly transformer telemetry: the failure model's inputs.
CREATE TABLE grid.transformer_telemetry (
  transformer_id BIGINT NOT NULL,
  hour_end TIMESTAMPTZ NOT NULL,
  load_kva DOUBLE PRECISION,
  peak_load_kva DOUBLE PRECISION,
  ambient_temp_c DOUBLE PRECISION,
  oil_temp_c DOUBLE PRECISION,
  winding_temp_c DOUBLE PRECISION,
  efficiency DOUBLE PRECISION,
  PRIMARY KEY (transformer_id, hour_end)
);

-- Voltage quality of the scored reading stream, aggregated per Kafka message, transformer and
-- 15-minute bucket. Keyed by the message's position so a replay after a crash adds nothing twice.
CREATE TABLE grid.voltage_stats (
  kafka_partition INTEGER NOT NULL,
  kafka_offset BIGINT NOT NULL,
  transformer_id BIGINT NOT NULL,  -- 0: meter not connected to a known transformer
  bucket TIMESTAMPTZ NOT NULL,
  readings INTEGER NOT NULL,
  within_band INTEGER NOT NULL,
  warnings INTEGER NOT NULL,
  voltage_sum DOUBLE PRECISION NOT NULL,
  voltage_min DOUBLE PRECISION NOT NULL,
  voltage_max DOUBLE PRECISION NOT NULL,
  meters INTEGER NOT NULL,
  PRIMARY KEY (kafka_partition, kafka_offset, transformer_id, bucket)
);
CREATE INDEX voltage_stats_bucket ON grid.voltage_stats (bucket);
