-- Power frequency (Hz) where the meter reports it (reading.proto ReadingBatch.frequency_hz).
-- NaN, like the voltage of an energy-only reading, means not reported, so binary COPY keeps its
-- fixed layout with no NULLs; a constant default makes this a catalogue change, not a rewrite of
-- the stored partitions. Rejected readings keep what was received; rows from before this hold NULL.
-- quality_flag may now hold 4 (frequency_warning: outside 49.85-50.15 Hz).
ALTER TABLE meters.meter_readings ADD COLUMN frequency_hz DOUBLE PRECISION NOT NULL DEFAULT 'NaN';
ALTER TABLE meters.rejected_readings ADD COLUMN frequency_hz DOUBLE PRECISION;

DROP VIEW meters.readings;
CREATE VIEW meters.readings AS
SELECT meter_id, reading_time, consumption_kwh, demand_kw,
       NULLIF(voltage, 'NaN') AS voltage, NULLIF(current_amps, 'NaN') AS current_amps,
       NULLIF(power_factor, 'NaN') AS power_factor,
       CASE quality_flag WHEN 2 THEN 'voltage_warning' WHEN 3 THEN 'pf_warning' WHEN 4 THEN 'frequency_warning'
                         ELSE 'normal' END AS quality_flag,
       quality || CASE WHEN method_flag > 0 THEN lpad(method_flag::text, 2, '0') ELSE '' END AS quality_method,
       reason_code, version, NULLIF(frequency_hz, 'NaN') AS frequency_hz
FROM meters.meter_readings;
