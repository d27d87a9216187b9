-- depends: audit_0001_events customer_0008_demand_response_lifecycle
-- The recommendation lifecycle (customer_svc/recommendation_lifecycle.py): pending (proposed) -> sent
-- (delivered) -> accepted or dismissed (declined) -> measured, with the saving measured after
-- acceptance against the customer's usage before it.
ALTER TABLE customers.customer_recommendations
  ADD COLUMN delivered_at TIMESTAMPTZ,
  ADD COLUMN delivery_channel VARCHAR(30) NOT NULL DEFAULT '',
  ADD COLUMN accepted_at TIMESTAMPTZ,
  ADD COLUMN declined_at TIMESTAMPTZ,
  ADD COLUMN decline_reason TEXT NOT NULL DEFAULT '',
  ADD COLUMN tariff_at_acceptance VARCHAR(30),
  ADD COLUMN measured_at TIMESTAMPTZ,
  ADD COLUMN measurement JSONB;
-- The engagement gauge counts the recommendations past pending: a small share of the table.
CREATE INDEX customer_recommendations_engaged_idx ON customers.customer_recommendations (status)
  WHERE status <> 'pending';
-- Status changes and deletions commit only with their audit event. Inserts are a segmentation run's
-- own work (recorded when the run was started); the run's replacement of pending recommendations
-- is recorded by the run (store.store_assignments).
CREATE TRIGGER customer_recommendations_audited AFTER UPDATE OF status OR DELETE OR TRUNCATE
  ON customers.customer_recommendations FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
