-- The open month's summary folded day by day (customer_svc/month_fold.py), so closing a month folds
-- its last day instead of re-reading every hourly cell of the month.
-- sealed_days: local days 1..n of the month that the fold job has started to fold; whatever changes
-- a sealed day (late usage, weather, the registry) marks the customers or region it touches below,
-- in its own transaction, after bumping the month's version (which locks the month's row, so a
-- change either sees the seal or commits before the fold's snapshot). folded_days: the days the
-- stored running summary covers.
ALTER TABLE customers.usage_months ADD COLUMN sealed_days INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN folded_days INTEGER NOT NULL DEFAULT 0;

-- As customers.usage_summaries, in summary_store.RUNNING_LAYOUT (float32, nothing in half precision:
-- it is rewritten once a day and must not gather rounding).
CREATE TABLE customers.running_summaries (
  month DATE NOT NULL,
  block INTEGER NOT NULL,
  customer_ids BYTEA NOT NULL,
  stats BYTEA NOT NULL,
  PRIMARY KEY (month, block)
);
ALTER TABLE customers.running_summaries ALTER COLUMN customer_ids SET STORAGE EXTERNAL,
  ALTER COLUMN stats SET STORAGE EXTERNAL;

-- Customers / regions whose folded days changed since they were folded: the next fold re-summarises
-- them from hourly usage. `version`: the month's version the change made; a fold removes only marks
-- at or below the version of its snapshot, so a change committed meanwhile stays marked.
CREATE TABLE customers.refold_customers (
  month DATE NOT NULL,
  customer_id BIGINT NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (month, customer_id)
);
CREATE TABLE customers.refold_regions (
  month DATE NOT NULL,
  region TEXT NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (month, region)
);
