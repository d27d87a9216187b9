-- depends: audit_0001_events customer_audit_0001_guard customer_0010_regional_weather_forecasts
-- Recorded weather forecasts change only with their audit event in the same transaction, like the
-- observed weather (customer_audit_0001_guard).
CREATE TRIGGER regional_weather_forecasts_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON customers.regional_weather_forecasts
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
