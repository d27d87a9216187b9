-- depends: audit_0001_events alert_0002_follow_up_events
-- Escalation (docs/decisions.md 23): an alert left open (not acknowledged, not resolved) past its
-- severity's window goes to the next tier of its routing policy and is notified again through the outbox.
-- Tier 1 is the alert's first notification (routing.py); each later tier is one row here, written with
-- its outbox rows and its audit event in one transaction, unique per (alert, tier): a crash neither
-- loses a step (nothing committed, so the step is still due) nor repeats one.
CREATE TABLE alerts.escalation_steps (
  id BIGSERIAL PRIMARY KEY,
  alert_id BIGINT NOT NULL REFERENCES alerts.alerts (id),
  tier SMALLINT NOT NULL CHECK (tier >= 2),
  severity VARCHAR(20) NOT NULL,
  -- When the policy made the step due (the previous tier's time + this tier's window), and when it was taken.
  due_at TIMESTAMPTZ NOT NULL,
  at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  -- The channels notified (those of the policy's tier that are configured; may be none).
  channels TEXT[] NOT NULL,
  UNIQUE (alert_id, tier)
);
CREATE INDEX escalation_steps_at_idx ON alerts.escalation_steps (at);
-- The escalator's scan: open alerts only.
CREATE INDEX alerts_open_idx ON alerts.alerts (severity, created_at) WHERE status = 'open';

-- Notifications of an escalation tier are outbox rows of their own: tier 1 is the first notification.
-- Their payloads carry a key of their own (channels.idempotency_key), so a channel sees a new page,
-- card, mail or incident, and follow-ups (acknowledge, resolve) go to every tier that was told.
ALTER TABLE alerts.outbox
  ADD COLUMN tier SMALLINT NOT NULL DEFAULT 1 CHECK (tier >= 1),
  DROP CONSTRAINT outbox_alert_id_channel_action_key,
  ADD CONSTRAINT outbox_alert_id_channel_action_tier_key UNIQUE (alert_id, channel, action, tier);

-- A step is a decision of the platform acting on people's silence: it cannot commit without its audit event.
CREATE TRIGGER escalation_steps_audited AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alerts.escalation_steps
  FOR EACH STATEMENT EXECUTE FUNCTION audit.note_change();
