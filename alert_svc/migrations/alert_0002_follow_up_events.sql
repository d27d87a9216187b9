-- Follow-up events: when an alert is acknowledged or resolved, the stateful incident systems that
-- were told about it (PagerDuty, ServiceNow) are told again, through the same outbox.
-- external_id keeps what a channel returned on creation (ServiceNow's incident sys_id).
ALTER TABLE alerts.outbox
  ADD COLUMN action VARCHAR(12) NOT NULL DEFAULT 'trigger' CHECK (action IN ('trigger', 'acknowledge', 'resolve')),
  ADD COLUMN external_id TEXT,
  DROP CONSTRAINT outbox_alert_id_channel_key,
  ADD CONSTRAINT outbox_alert_id_channel_action_key UNIQUE (alert_id, channel, action);
