-- Model outputs, owned by scoring_svc (decision 5): the plan's `predictions` table, plus the outbox
-- of alerts still to be delivered to alert_svc.
CREATE SCHEMA IF NOT EXISTS ml;

CREATE TABLE ml.predictions (
  id BIGSERIAL PRIMARY KEY,
  asset_type VARCHAR(50) NOT NULL,        -- 'smart_meter', 'transformer'
  asset_id BIGINT NOT NULL,
  prediction_type VARCHAR(50) NOT NULL,   -- 'reading_anomaly', 'transformer_failure'
  probability DOUBLE PRECISION NOT NULL CHECK (probability BETWEEN 0 AND 1),
  confidence DOUBLE PRECISION NOT NULL CHECK (confidence BETWEEN 0 AND 1),  -- the plan's percent / 100
  at_risk BOOLEAN NOT NULL,
  predicted_at TIMESTAMPTZ NOT NULL,
  valid_until TIMESTAMPTZ,
  anomaly_type VARCHAR(40),
  severity VARCHAR(20),
  details JSONB NOT NULL DEFAULT '{}',
  top_features JSONB NOT NULL DEFAULT '[]',
  model_version VARCHAR(80) NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- One prediction per (asset, time, type): replaying the reading stream writes nothing twice.
  UNIQUE (asset_type, asset_id, prediction_type, predicted_at)
);
CREATE INDEX predictions_asset ON ml.predictions (asset_type, asset_id);
CREATE INDEX predictions_recent ON ml.predictions (predicted_at DESC, id DESC);

-- Alerts written in the same transaction as their prediction and deleted once alert_svc accepted
-- them (CreateAlert is idempotent on dedup_key, so a re-send after a crash is harmless).
CREATE TABLE ml.alert_outbox (
  id BIGSERIAL PRIMARY KEY,
  dedup_key VARCHAR(200) NOT NULL,
  request BYTEA NOT NULL,                 -- a serialized meters.alert.v1.CreateAlertRequest
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
