-- depends: audit_0001_events ingest_0001_meters_schema
-- Registering meters changes the registry only with its audit event in the same transaction
-- (meters/audit). Readings are bulk data from head-ends, not guarded.
CREATE TRIGGER smart_meters_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON meters.smart_meters
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
