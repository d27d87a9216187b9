-- The alert service owns the `alerts` schema: every alert raised, and the
-- transactional outbox of the notifications each alert owes.
CREATE SCHEMA IF NOT EXISTS alerts;

-- Change log position. Every change of an alert takes the next value while
-- holding a transaction-level advisory lock, so sequences commit in order and a
-- watcher that has seen sequence N has seen every change below N
-- (docs/decisions.md, "Alert sequences commit in order").
CREATE SEQUENCE alerts.change_seq;

CREATE TABLE alerts.alerts (
  id BIGSERIAL PRIMARY KEY,
  title VARCHAR(200) NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  severity VARCHAR(20) NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  status VARCHAR(20) NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  source VARCHAR(50) NOT NULL,
  -- 0..1 (the plan's integer percent / 100); NULL when the source gave none.
  confidence DOUBLE PRECISION CHECK (confidence BETWEEN 0 AND 1),
  asset_type VARCHAR(50),
  asset_id BIGINT,
  dedup_key VARCHAR(500) NOT NULL,
  labels JSONB NOT NULL DEFAULT '{}',
  detected_at TIMESTAMPTZ NOT NULL,
  notified_at TIMESTAMPTZ,
  acknowledged_at TIMESTAMPTZ,
  acknowledged_by TEXT,
  resolved_at TIMESTAMPTZ,
  resolved_by TEXT,
  resolution_note TEXT,
  occurrences BIGINT NOT NULL DEFAULT 1,
  last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  sequence BIGINT NOT NULL UNIQUE,
  -- What the latest change was: created, repeated, notified, acknowledged, resolved.
  last_change VARCHAR(20) NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- At most one unresolved alert per de-duplication key.
CREATE UNIQUE INDEX alerts_open_dedup_key_idx ON alerts.alerts (dedup_key) WHERE status <> 'resolved';
CREATE INDEX alerts_severity_idx ON alerts.alerts (severity, created_at DESC);
CREATE INDEX alerts_detected_idx ON alerts.alerts (detected_at DESC, id DESC);
CREATE INDEX alerts_asset_idx ON alerts.alerts (asset_type, asset_id);

-- One row per (alert, channel), written in the alert's own transaction, so a
-- notification cannot be lost between the alert commit and the send.
CREATE TABLE alerts.outbox (
  id BIGSERIAL PRIMARY KEY,
  alert_id BIGINT NOT NULL REFERENCES alerts.alerts (id),
  channel VARCHAR(20) NOT NULL CHECK (channel IN ('pagerduty', 'teams', 'email', 'servicenow')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  delivered_at TIMESTAMPTZ,
  last_error TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (alert_id, channel)
);
CREATE INDEX outbox_due_idx ON alerts.outbox (channel, next_attempt_at) WHERE delivered_at IS NULL;
