-- The customer service owns the `customers` schema (docs/decisions.md #5): the customer
-- registry, hourly usage folded from meter-readings, segmentation runs, recommendations
-- and demand response events. Other services reach it only through CustomerService.
CREATE SCHEMA IF NOT EXISTS customers;

CREATE TABLE customers.segmentation_runs (
  id BIGSERIAL PRIMARY KEY,
  status VARCHAR(20) NOT NULL DEFAULT 'running',
  usage_days INTEGER NOT NULL,
  customers_assigned BIGINT NOT NULL DEFAULT 0,
  model_version TEXT NOT NULL DEFAULT '',
  adjusted_rand_index DOUBLE PRECISION NOT NULL DEFAULT 0,
  error_message TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  completed_at TIMESTAMPTZ
);

CREATE TABLE customers.customers (
  id BIGSERIAL PRIMARY KEY,
  customer_hash VARCHAR(64) UNIQUE NOT NULL,
  segment_id VARCHAR(30),
  segment_confidence DOUBLE PRECISION NOT NULL DEFAULT 0,
  segmentation_run_id BIGINT REFERENCES customers.segmentation_runs (id),
  tariff_type VARCHAR(30) NOT NULL DEFAULT 'flat',
  solar_installed BOOLEAN NOT NULL DEFAULT FALSE,
  ev_charging BOOLEAN NOT NULL DEFAULT FALSE,
  demand_response_opted_in BOOLEAN NOT NULL DEFAULT FALSE,
  region VARCHAR(8) NOT NULL DEFAULT '',
  mean_daily_kwh DOUBLE PRECISION NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX customers_segment_idx ON customers.customers (segment_id);

-- Meter -> customer, registered through BatchCreateCustomers.
CREATE TABLE customers.customer_meters (
  meter_id BIGINT PRIMARY KEY,
  customer_id BIGINT NOT NULL REFERENCES customers.customers (id)
);
CREATE INDEX customer_meters_customer_idx ON customers.customer_meters (customer_id);

-- Energy per meter and UTC hour. `slots` has one bit per 5-minute slot of the hour already
-- counted, so a reading re-sent in another message is not added twice.
CREATE TABLE customers.hourly_usage (
  meter_id BIGINT NOT NULL,
  hour_start TIMESTAMPTZ NOT NULL,
  kwh DOUBLE PRECISION NOT NULL,
  max_kw DOUBLE PRECISION NOT NULL,
  slots INTEGER NOT NULL,
  PRIMARY KEY (meter_id, hour_start)
);

-- Kafka positions already folded into hourly_usage, written in the same transaction:
-- a replayed message (crash between DB commit and offset commit) is skipped.
CREATE TABLE customers.consumer_offsets (
  topic TEXT NOT NULL,
  kafka_partition INTEGER NOT NULL,
  next_offset BIGINT NOT NULL,
  PRIMARY KEY (topic, kafka_partition)
);

CREATE TABLE customers.customer_recommendations (
  id BIGSERIAL PRIMARY KEY,
  customer_id BIGINT NOT NULL REFERENCES customers.customers (id),
  recommendation_type VARCHAR(50) NOT NULL,
  title VARCHAR(200) NOT NULL,
  description TEXT NOT NULL,
  estimated_monthly_savings DOUBLE PRECISION NOT NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'pending',
  segmentation_run_id BIGINT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX customer_recommendations_customer_idx ON customers.customer_recommendations (customer_id, id DESC);

CREATE TABLE customers.demand_response_events (
  id BIGSERIAL PRIMARY KEY,
  request_id TEXT UNIQUE,
  event_type VARCHAR(50) NOT NULL,
  start_time TIMESTAMPTZ NOT NULL,
  end_time TIMESTAMPTZ NOT NULL,
  target_reduction_mw DOUBLE PRECISION NOT NULL DEFAULT 0,
  target_segments TEXT[] NOT NULL DEFAULT '{}',
  region VARCHAR(8) NOT NULL DEFAULT '',
  customers_targeted INTEGER NOT NULL DEFAULT 0,
  customers_participated INTEGER NOT NULL DEFAULT 0,
  baseline_mw DOUBLE PRECISION,
  actual_mw DOUBLE PRECISION,
  actual_reduction_mw DOUBLE PRECISION,
  reading_coverage DOUBLE PRECISION,
  baseline_method TEXT,
  measured_at TIMESTAMPTZ,
  cancelled BOOLEAN NOT NULL DEFAULT FALSE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX demand_response_events_start_idx ON customers.demand_response_events (start_time DESC);

CREATE TABLE customers.demand_response_participants (
  event_id BIGINT NOT NULL REFERENCES customers.demand_response_events (id),
  customer_id BIGINT NOT NULL REFERENCES customers.customers (id),
  baseline_kw DOUBLE PRECISION,
  actual_kw DOUBLE PRECISION,
  reduction_kw DOUBLE PRECISION,
  PRIMARY KEY (event_id, customer_id)
);
