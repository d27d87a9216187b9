-- The mesh's audit trail (docs/security.md, "Audit trail"): one append-only table shared by every
-- service, applied by meters.db.migrate before any service's own migrations, because their audited
-- tables carry a trigger into this schema.
CREATE SCHEMA IF NOT EXISTS audit;

CREATE SEQUENCE audit.events_id_seq;

-- One row per state change (or refused attempt) of an RPC or a job. Monthly range partitions of
-- occurred_at, dropped whole by alert_svc's audit retention job (84 months by default).
CREATE TABLE audit.events (
  id BIGINT NOT NULL DEFAULT nextval('audit.events_id_seq'),
  -- The writing transaction's start: the change and its record share it.
  occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- The writing transaction, so the commit-time check finds the record of its own change.
  txid BIGINT NOT NULL DEFAULT txid_current(),
  -- Token subject (oid / sub), "cert:<common name>", or "system:<job>".
  actor TEXT NOT NULL,
  actor_via TEXT NOT NULL CHECK (actor_via IN ('token', 'certificate', 'development', 'system', 'none')),
  actor_roles TEXT[] NOT NULL DEFAULT '{}',
  -- Common name of the connection's certificate (e.g. "gateway" for REST callers).
  peer TEXT NOT NULL DEFAULT '',
  service TEXT NOT NULL,
  method TEXT NOT NULL,
  resource TEXT NOT NULL,
  action TEXT NOT NULL,
  before JSONB,
  after JSONB,
  -- OK, or the status code of a refused attempt (written in a transaction of its own).
  outcome TEXT NOT NULL DEFAULT 'OK',
  error_message TEXT NOT NULL DEFAULT '',
  request_id TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (occurred_at, id)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX events_txid_idx ON audit.events (txid);
CREATE INDEX events_actor_idx ON audit.events (actor, occurred_at DESC, id DESC);
CREATE INDEX events_resource_idx ON audit.events (resource, occurred_at DESC, id DESC);
CREATE INDEX events_time_idx ON audit.events (occurred_at DESC, id DESC);

-- Append-only. The triggers hold for every role but a superuser or the owner disabling them;
-- services in production connect as a role that owns nothing here (docs/security.md).
REVOKE UPDATE, DELETE, TRUNCATE ON audit.events FROM PUBLIC;

CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit.events is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON audit.events
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- The partition of the month starting at `month` (named events_YYYYMM01, so the shared retention
-- job reads its bound like a daily one's), with the TRUNCATE guard that statement triggers of the
-- parent do not pass on to a partition. Serialised by a transaction lock; a no-op when it exists.
CREATE FUNCTION audit.ensure_month(month DATE) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  first DATE := date_trunc('month', month)::date;
  part TEXT := 'events_' || to_char(first, 'YYYYMMDD');
BEGIN
  IF to_regclass('audit.' || part) IS NOT NULL THEN
    RETURN false;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('partitions:audit.events'));
  IF to_regclass('audit.' || part) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE audit.%I PARTITION OF audit.events FOR VALUES FROM (%L) TO (%L)', part,
                 first::timestamp AT TIME ZONE 'UTC', (first + interval '1 month')::timestamp AT TIME ZONE 'UTC');
  EXECUTE format('CREATE TRIGGER no_truncate BEFORE TRUNCATE ON audit.%I'
                 ' FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change()', part);
  EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit.%I FROM PUBLIC', part);
  RETURN true;
END $$;

-- This month's and the next (writers create later ones as they need them: meters/audit/writer.py).
DO $$ BEGIN
  PERFORM audit.ensure_month((now() AT TIME ZONE 'UTC')::date);
  PERFORM audit.ensure_month(((now() AT TIME ZONE 'UTC') + interval '1 month')::date);
END $$;

-- No change without its record. An audited table's statement trigger notes its transaction here
-- (once per transaction); this table's deferred constraint trigger then checks at COMMIT that the
-- transaction wrote an audit event, and raises otherwise, so the change rolls back.
CREATE TABLE audit.pending (
  txid BIGINT PRIMARY KEY,
  relation TEXT NOT NULL
);

CREATE FUNCTION audit.note_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  tx BIGINT := txid_current();
BEGIN
  -- Fast path for the statements after the first (a batch of 10,000 INSERTs is 10,000 statements).
  IF current_setting('audit.noted_txid', true) IS DISTINCT FROM tx::text THEN
    INSERT INTO audit.pending (txid, relation) VALUES (tx, TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)
      ON CONFLICT DO NOTHING;
    PERFORM set_config('audit.noted_txid', tx::text, true);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION audit.require_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM audit.events e
                 WHERE e.txid = NEW.txid AND e.occurred_at >= now() - interval '1 day') THEN
    RAISE EXCEPTION 'a change to % without its audit event cannot commit', NEW.relation
      USING ERRCODE = 'integrity_constraint_violation',
            HINT = 'record it with meters.audit in the same transaction';
  END IF;
  DELETE FROM audit.pending WHERE txid = NEW.txid;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER pending_needs_event AFTER INSERT ON audit.pending
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit.require_event();
