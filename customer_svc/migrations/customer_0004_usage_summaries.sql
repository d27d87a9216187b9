-- Monthly per-customer usage summaries (customer_svc/usage_summary.py): what a segmentation run
-- merges instead of re-reading a year of hourly usage. A month's `version` goes up whenever
-- something it summarises changes (usage folded into it, its weather, the customer registry);
-- a stored summary is reused only while its `summarised_version` is the current one.
CREATE TABLE customers.usage_months (
  month DATE PRIMARY KEY,  -- first day of a local calendar month
  version BIGINT NOT NULL DEFAULT 1,
  summarised_version BIGINT
);

CREATE TABLE customers.usage_summaries (
  month DATE NOT NULL,
  customer_id BIGINT NOT NULL,
  stats BYTEA NOT NULL,  -- one summary_store.ROW record
  PRIMARY KEY (month, customer_id)
);
