-- depends: audit_0001_events alert_0001_alerts_schema
-- Raising, acknowledging and resolving alerts are decisions of people (or scoring's): a transaction
-- that inserts or deletes alerts, or changes their status, cannot commit without its audit event
-- (meters/audit). The outbox's notified_at and the repeat counter are not guarded.
CREATE TRIGGER alerts_audited AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF status ON alerts.alerts
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
