-- depends: audit_0001_events customer_0001_customers_schema customer_0003_regional_weather
-- Registrations, demand response events, segmentation runs and recorded weather change only with their
-- audit event in the same transaction (meters/audit). A segmentation run's own results (segments,
-- confidence, recommendations, the run's status) are the run's work, recorded when it was started.
CREATE TRIGGER customers_audited AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF customer_hash, tariff_type, solar_installed,
  ev_charging, demand_response_opted_in, region ON customers.customers
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
CREATE TRIGGER customer_meters_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON customers.customer_meters
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
CREATE TRIGGER demand_response_events_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON customers.demand_response_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
CREATE TRIGGER demand_response_participants_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON customers.demand_response_participants FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
CREATE TRIGGER segmentation_runs_audited AFTER INSERT OR DELETE OR TRUNCATE ON customers.segmentation_runs
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
CREATE TRIGGER regional_weather_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON customers.regional_weather
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
