-- The demand response lifecycle (customer_svc/demand_response_lifecycle.py): dispatch locks the
-- participant list, a participant may opt out of one event before it starts, settlement credits each
-- measured participant's reduction (kWh) at the configured AUD/kWh rate, once. Every column here
-- changes through an RPC that records its audit event (the tables' triggers: customer_audit_0001).
ALTER TABLE customers.demand_response_events
  ADD COLUMN dispatched_at TIMESTAMPTZ,
  ADD COLUMN cancelled_at TIMESTAMPTZ,
  ADD COLUMN settled_at TIMESTAMPTZ,
  ADD COLUMN credit_aud_per_kwh DOUBLE PRECISION,
  ADD COLUMN total_credit_aud DOUBLE PRECISION,
  ADD COLUMN customers_credited INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers.demand_response_participants
  ADD COLUMN invited_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  ADD COLUMN opted_out_at TIMESTAMPTZ,
  ADD COLUMN reduction_kwh DOUBLE PRECISION,
  ADD COLUMN credit_aud DOUBLE PRECISION;
