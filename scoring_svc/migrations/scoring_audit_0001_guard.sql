-- depends: audit_0001_events scoring_0001_grid_schema
-- Registering grid assets (substations, transformers, meter connections) changes them only with their
-- audit event in the same transaction (meters/audit). A transformer's status and load, set by scoring
-- and telemetry, are the service's own work and not guarded.
CREATE TRIGGER substations_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grid.substations
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
CREATE TRIGGER transformers_audited AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF transformer_number, substation_id, region,
  capacity_kva ON grid.transformers FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
CREATE TRIGGER meter_connections_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON grid.meter_connections
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
