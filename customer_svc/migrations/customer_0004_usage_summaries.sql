-- Monthly per-customer usage summaries (customer_svc/usage_summary.py): what a segmentation run
-- merges instead of re-reading a year of hourly usage. A month's `version` goes up whenever
-- something it summarises changes (usage folded into it, its weather, the customer registry);
-- stored summaries are reused only while `summarised_version` is the current version.
CREATE TABLE customers.usage_months (
  month DATE PRIMARY KEY,  -- first day of a local calendar month
  version BIGINT NOT NULL DEFAULT 1,
  summarised_version BIGINT
);

-- A month is written whole, in blocks of customers: one row holds the block's customer ids and
-- each statistic for all of them (summary_store.LAYOUT), so a run reads a month in ~120 rows at
-- 1.2 M customers instead of 1.2 M small ones.
CREATE TABLE customers.usage_summaries (
  month DATE NOT NULL,
  block INTEGER NOT NULL,
  customer_ids BYTEA NOT NULL,  -- little-endian int64, ascending
  stats BYTEA NOT NULL,
  PRIMARY KEY (month, block)
);
-- Float arrays barely compress: store them as they are rather than spend CPU trying.
ALTER TABLE customers.usage_summaries ALTER COLUMN customer_ids SET STORAGE EXTERNAL,
  ALTER COLUMN stats SET STORAGE EXTERNAL;
