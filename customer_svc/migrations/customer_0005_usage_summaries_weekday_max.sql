-- summary_store.LAYOUT gained weekday_max_kwh (the demand tariff bills a month's highest weekday
-- hour): summaries stored in the previous layout cannot be read back. Drop them and mark every month
-- stale, so the next run summarises each month again from hourly usage.
DELETE FROM customers.usage_summaries;
UPDATE customers.usage_months SET summarised_version = NULL;
