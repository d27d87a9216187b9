-- ml.predictions in daily partitions of predicted_at, so the retention job drops them a whole day at a
-- time (meters/retention.py). predicted_at joins the primary key, as PostgreSQL requires of a
-- partitioned table; the unique key of (asset, type, time) already held it. Writers create the days
-- they need (scoring_svc/store.py, through meters/partitions.py).
ALTER TABLE ml.predictions RENAME TO predictions_unpartitioned;
ALTER SEQUENCE ml.predictions_id_seq OWNED BY NONE;
CREATE TABLE ml.predictions (LIKE ml.predictions_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY RANGE (predicted_at);
DO $$
DECLARE d DATE;
BEGIN
  FOR d IN SELECT DISTINCT (predicted_at AT TIME ZONE 'UTC')::DATE FROM ml.predictions_unpartitioned LOOP
    EXECUTE format('CREATE TABLE ml.%I PARTITION OF ml.predictions FOR VALUES FROM (%L) TO (%L)',
      'predictions_' || to_char(d, 'YYYYMMDD'), d::TIMESTAMP AT TIME ZONE 'UTC', (d + 1)::TIMESTAMP AT TIME ZONE 'UTC');
  END LOOP;
END
$$;
INSERT INTO ml.predictions SELECT * FROM ml.predictions_unpartitioned;
DROP TABLE ml.predictions_unpartitioned;
ALTER SEQUENCE ml.predictions_id_seq OWNED BY ml.predictions.id;
ALTER TABLE ml.predictions ADD PRIMARY KEY (id, predicted_at);
ALTER TABLE ml.predictions ADD UNIQUE (asset_type, asset_id, prediction_type, predicted_at);
CREATE INDEX predictions_asset ON ml.predictions (asset_type, asset_id);
CREATE INDEX predictions_recent ON ml.predictions (predicted_at DESC, id DESC);
