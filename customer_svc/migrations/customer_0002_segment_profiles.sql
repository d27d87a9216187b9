-- Each run's mean weekday load profile per (region, segment): GetSegmentDistribution's peak_hour
-- (for all regions or one) comes from these sums without touching hourly_usage.
CREATE TABLE customers.segment_profiles (
  segmentation_run_id BIGINT NOT NULL REFERENCES customers.segmentation_runs (id),
  region VARCHAR(8) NOT NULL,
  segment_id VARCHAR(30) NOT NULL,
  customers BIGINT NOT NULL,
  -- Sum over the members of their mean weekday kWh per local hour (24 values).
  hourly_kwh_sum DOUBLE PRECISION[] NOT NULL,
  PRIMARY KEY (segmentation_run_id, region, segment_id)
);
