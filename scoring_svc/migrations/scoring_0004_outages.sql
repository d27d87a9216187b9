-- depends: scoring_0003_predictions_daily scoring_audit_0001_guard
-- Outage detection (docs/outages.md): feeders between transformers and zone substations, the outages
-- the detector opens and closes, the meters each took off supply, planned work registered in advance,
-- and the detector's checkpoint (its state with the meter-events offsets it reflects).
CREATE TABLE grid.feeders (
  id BIGINT PRIMARY KEY,
  substation_id BIGINT NOT NULL,
  name VARCHAR(100) NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX feeders_substation ON grid.feeders (substation_id, id);
ALTER TABLE grid.transformers ADD COLUMN feeder_id BIGINT;
CREATE INDEX transformers_feeder ON grid.transformers (feeder_id, id);

CREATE TABLE grid.outages (
  outage_id BIGSERIAL PRIMARY KEY,
  level VARCHAR(12) NOT NULL CHECK (level IN ('meter', 'transformer', 'feeder')),
  asset_id BIGINT NOT NULL,
  region VARCHAR(8),
  substation_id BIGINT,
  feeder_id BIGINT,
  transformer_id BIGINT,
  started_at TIMESTAMPTZ NOT NULL,
  restored_at TIMESTAMPTZ,
  customers_affected INTEGER NOT NULL,
  planned BOOLEAN NOT NULL DEFAULT false,
  announced_at TIMESTAMPTZ,
  momentary BOOLEAN NOT NULL DEFAULT false,
  cause VARCHAR(24) NOT NULL DEFAULT 'unknown',
  detected_from VARCHAR(40) NOT NULL,
  restored_from VARCHAR(12),
  opened_at TIMESTAMPTZ NOT NULL,  -- the detector's clock (meter event time) when it decided
  closed_at TIMESTAMPTZ,
  sequence BIGINT NOT NULL,  -- of the latest change, for WatchOutages
  -- A replay after a restart re-derives the same outage: it lands on this key and adds nothing.
  UNIQUE (level, asset_id, started_at)
);
CREATE INDEX outages_started ON grid.outages (started_at DESC, outage_id DESC);
CREATE INDEX outages_open ON grid.outages (outage_id) WHERE restored_at IS NULL;
CREATE INDEX outages_sequence ON grid.outages (sequence);
CREATE SEQUENCE grid.outage_change_seq;

CREATE TABLE grid.outage_meters (
  outage_id BIGINT NOT NULL,
  meter_id BIGINT NOT NULL,
  PRIMARY KEY (outage_id, meter_id)
);

CREATE TABLE grid.planned_work (
  id BIGSERIAL PRIMARY KEY,
  level VARCHAR(12) NOT NULL CHECK (level IN ('meter', 'transformer', 'feeder')),
  asset_id BIGINT NOT NULL,
  start_time TIMESTAMPTZ NOT NULL,
  end_time TIMESTAMPTZ NOT NULL CHECK (end_time > start_time),
  description VARCHAR(500) NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX planned_work_end ON grid.planned_work (end_time);

CREATE TABLE grid.outage_detector_state (
  id SMALLINT PRIMARY KEY CHECK (id = 1),
  snapshot BYTEA NOT NULL,
  offsets JSONB NOT NULL,  -- {"partition": next offset} of meter-events the snapshot reflects
  saved_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TRIGGER feeders_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grid.feeders
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
CREATE TRIGGER planned_work_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grid.planned_work
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
CREATE TRIGGER transformer_feeders_audited AFTER UPDATE OF feeder_id ON grid.transformers
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();

-- The alert outbox also carries resolutions (an outage's alert resolved on restore): kind says which
-- request the row's bytes are.
ALTER TABLE ml.alert_outbox ADD COLUMN kind VARCHAR(8) NOT NULL DEFAULT 'create' CHECK (kind IN ('create', 'resolve'));
