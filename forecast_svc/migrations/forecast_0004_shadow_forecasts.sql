-- depends: forecast_0003_level_scale
-- The live forecasts of the network model in shadow and of the promoted one, for the same requests
-- (forecast_svc/shadow.py): what the promotion rule scores against the measured demand. Only
-- written while a candidate is in shadow; the promoted model's served runs stay in forecast_runs.
CREATE TABLE forecast.shadow_forecasts (
  request_id BIGINT NOT NULL,            -- the served run (forecast_runs.id) both answered
  role TEXT NOT NULL CHECK (role IN ('promoted', 'shadow')),
  model_version TEXT NOT NULL,           -- the file registry's version
  "timestamp" TIMESTAMPTZ NOT NULL,      -- the step's end, as demand_actuals.step_end
  predicted_demand_mw DOUBLE PRECISION NOT NULL,
  latency_seconds DOUBLE PRECISION NOT NULL,  -- time to compute the whole answer
  issued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (request_id, role, "timestamp")
);
CREATE INDEX shadow_forecasts_version ON forecast.shadow_forecasts (role, model_version);
