-- depends: audit_0001_events forecast_0001_forecast_schema
-- Meter placements and model versions (a retrain started, finished, promoted) change only with
-- their audit event in the same transaction (meters/audit).
CREATE TRIGGER meter_scopes_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON forecast.meter_scopes
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
CREATE TRIGGER model_versions_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON forecast.model_versions
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
