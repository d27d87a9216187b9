-- NEM quality of every stored reading (AEMO MDFF / Metrology Procedure Part B): the quality
-- method letter (A actual, S substituted, F final substituted, E estimated), its method flag
-- (0 = none), the reason code (0 = none) and the version: the MDFF UpdateDateTime, or when VEE
-- made a substitute, Unix seconds; 0 for streamed readings. A later version of an interval
-- replaces the stored one, and an actual replaces a substitute (ingest_svc/reading_sink.py).
-- Readings of interval energy only (MDFF files, VEE substitutes) hold NaN voltage, current and
-- power factor: not measured.
ALTER TABLE meters.meter_readings
  ADD COLUMN quality CHAR(1) NOT NULL DEFAULT 'A',
  ADD COLUMN method_flag SMALLINT NOT NULL DEFAULT 0,
  ADD COLUMN reason_code SMALLINT NOT NULL DEFAULT 0,
  ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Every change to a stored reading: a substitute filling a gap (before empty), a later version
-- or an actual replacing what was stored. `rule` says who or what made it ("vee/gap",
-- "nem12-import", ...). The Kafka position of the change makes a replayed message a no-op.
CREATE TABLE meters.reading_edits (
  id BIGSERIAL PRIMARY KEY,
  meter_id BIGINT NOT NULL,
  reading_time TIMESTAMPTZ NOT NULL,
  before_kwh DOUBLE PRECISION,
  before_quality TEXT,
  before_version BIGINT,
  after_kwh DOUBLE PRECISION NOT NULL,
  after_quality TEXT NOT NULL,
  after_version BIGINT NOT NULL,
  rule TEXT NOT NULL,
  edited_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  kafka_partition INTEGER NOT NULL,
  kafka_offset BIGINT NOT NULL,
  row_index INTEGER NOT NULL,
  UNIQUE (kafka_partition, kafka_offset, row_index)
);
CREATE INDEX reading_edits_meter_idx ON meters.reading_edits (meter_id, reading_time);

-- Rejected intervals of an MDFF import keep the existing key with the file in place of the Kafka
-- message: source_topic "nem12:<sha256>", partition 0, offset = line, row_index = interval, and
-- received_at the file's creation time, so a re-imported file adds no second copy.

DROP VIEW meters.readings;
CREATE VIEW meters.readings AS
SELECT meter_id, reading_time, consumption_kwh, demand_kw,
       NULLIF(voltage, 'NaN') AS voltage, NULLIF(current_amps, 'NaN') AS current_amps,
       NULLIF(power_factor, 'NaN') AS power_factor,
       CASE quality_flag WHEN 2 THEN 'voltage_warning' WHEN 3 THEN 'pf_warning' ELSE 'normal' END
         AS quality_flag,
       quality || CASE WHEN method_flag > 0 THEN lpad(method_flag::text, 2, '0') ELSE '' END AS quality_method,
       reason_code, version
FROM meters.meter_readings;
