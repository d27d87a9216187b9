-- forecast_svc owns schema `forecast` (docs/decisions.md #5).
CREATE SCHEMA IF NOT EXISTS forecast;

-- Where each meter sits, registered through BatchCreateMeterScopes.
CREATE TABLE forecast.meter_scopes (
  meter_id BIGINT PRIMARY KEY,
  transformer_id BIGINT NOT NULL,
  substation_id BIGINT NOT NULL,
  region TEXT NOT NULL
);

-- Measured demand per scope and 15-minute step (scope: 1 network, 2 region, 3 substation,
-- 4 transformer, as the ForecastScope enum), summed from meter-readings.
CREATE TABLE forecast.demand_actuals (
  scope SMALLINT NOT NULL,
  scope_id TEXT NOT NULL,
  step_end TIMESTAMPTZ NOT NULL,
  demand_mw DOUBLE PRECISION NOT NULL,
  readings INTEGER NOT NULL,
  PRIMARY KEY (scope, scope_id, step_end)
);

-- Next Kafka offset to apply per partition, committed in the same transaction as the sums it
-- produced: a replayed message is recognised and skipped, so sums never double.
CREATE TABLE forecast.consumer_positions (
  topic TEXT NOT NULL,
  kafka_partition INTEGER NOT NULL,
  next_offset BIGINT NOT NULL,
  PRIMARY KEY (topic, kafka_partition)
);

CREATE TABLE forecast.forecast_runs (
  id BIGSERIAL PRIMARY KEY,
  scope SMALLINT NOT NULL,
  scope_id TEXT NOT NULL,
  start_time TIMESTAMPTZ NOT NULL,
  horizon_hours INTEGER NOT NULL,
  step_minutes INTEGER NOT NULL DEFAULT 15,
  interval_level DOUBLE PRECISION NOT NULL,
  model_version TEXT NOT NULL,
  issued_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX forecast_runs_scope_start ON forecast.forecast_runs (scope, scope_id, start_time, id DESC);

-- The plan's demand_forecasts, one row per run and step, with its scope so actuals join directly.
CREATE TABLE forecast.demand_forecasts (
  run_id BIGINT NOT NULL REFERENCES forecast.forecast_runs (id) ON DELETE CASCADE,
  "timestamp" TIMESTAMPTZ NOT NULL,
  scope SMALLINT NOT NULL,
  scope_id TEXT NOT NULL,
  model_version TEXT NOT NULL,
  horizon_hours INTEGER NOT NULL,
  predicted_demand_mw DOUBLE PRECISION NOT NULL,
  confidence_lower DOUBLE PRECISION NOT NULL,
  confidence_upper DOUBLE PRECISION NOT NULL,
  actual_demand_mw DOUBLE PRECISION,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, "timestamp")
);
CREATE INDEX demand_forecasts_scope_time ON forecast.demand_forecasts (scope, scope_id, "timestamp");

CREATE TABLE forecast.model_versions (
  version TEXT PRIMARY KEY,
  status SMALLINT NOT NULL,  -- ForecastModelVersionStatus
  serving BOOLEAN NOT NULL DEFAULT false,
  training_start TIMESTAMPTZ,
  training_end TIMESTAMPTZ,
  holdout_within_5pct DOUBLE PRECISION,
  holdout_mape_percent DOUBLE PRECISION,
  error_message TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  completed_at TIMESTAMPTZ
);
