-- depends: audit_0001_events
-- The model registry's records (docs/model-lifecycle.md): every training run with its data window,
-- metrics and artifact digest (the files stay in the file registry, meters/model_registry.py), and
-- every decision about what is served: a candidate put in shadow, promoted, refused, rolled back.
-- A decision, the PROMOTED / SHADOW pointer it moves and its audit event commit together.
CREATE SCHEMA IF NOT EXISTS model_registry;

CREATE TABLE model_registry.runs (
  id BIGSERIAL PRIMARY KEY,
  run_key UUID NOT NULL UNIQUE,           -- the run that made the artifact (lineage)
  model TEXT NOT NULL,                    -- the file registry's model name ("forecast-network", "anomaly", ...)
  version TEXT,                           -- NULL when the run failed before registering
  job TEXT NOT NULL,                      -- who ran it: "schedule", "cli", "cronjob"
  status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
  data_source TEXT NOT NULL,              -- where the training data came from
  data_start TIMESTAMPTZ,                 -- the training window
  data_end TIMESTAMPTZ,
  data_rows BIGINT,
  data_sha256 TEXT,                       -- of the training data as fitted (or of the generator's config)
  metrics JSONB NOT NULL DEFAULT '{}',
  artifact_sha256 TEXT,                   -- over the version folder's files (meters/model_lifecycle/digest.py)
  files JSONB NOT NULL DEFAULT '{}',      -- file name -> sha256
  error_message TEXT NOT NULL DEFAULT '',
  started_at TIMESTAMPTZ NOT NULL,
  finished_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (model, version)
);

CREATE TABLE model_registry.decisions (
  id BIGSERIAL PRIMARY KEY,
  model TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('shadow', 'promote', 'refuse', 'rollback')),
  from_version TEXT,                      -- what was promoted before (NULL: nothing)
  to_version TEXT,                        -- the version the action is about
  run_id BIGINT REFERENCES model_registry.runs (id),
  evidence JSONB NOT NULL DEFAULT '{}',   -- scores, the rule, the reason
  decided_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX decisions_model ON model_registry.decisions (model, id DESC);

CREATE TRIGGER runs_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON model_registry.runs
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
CREATE TRIGGER decisions_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON model_registry.decisions
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
