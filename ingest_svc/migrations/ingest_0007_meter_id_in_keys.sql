-- A sharding-ready schema (docs/decisions.md 27, meters/sharding.py): every unique key of a
-- meter-keyed table carries meter_id, so the table can be distributed by meter id (Citus), each
-- key checked on the one shard holding the meter.
--
-- meter_events: an event is now unique per (meter_id, event_id, event_time). event_id is the
-- head-end's id; two meters' events with the same id are two events, and a resend of a stored event
-- (same meter, id and time) is still a DUPLICATE_EVENT (ingest_svc/event_sink.py).
ALTER TABLE meters.meter_events DROP CONSTRAINT meter_events_pkey,
  ADD CONSTRAINT meter_events_pkey PRIMARY KEY (meter_id, event_id, event_time);

-- The other keys are Kafka (or MDFF file) positions, each naming one row and so one meter: adding
-- meter_id, last so that the position stays the index's prefix, makes no two rows distinct that
-- were not before, and every ON CONFLICT DO NOTHING keeps its meaning.
ALTER TABLE meters.rejected_meter_events DROP CONSTRAINT rejected_meter_events_pkey,
  ADD CONSTRAINT rejected_meter_events_pkey
    PRIMARY KEY (source_topic, kafka_partition, kafka_offset, row_index, received_at, meter_id);

ALTER TABLE meters.rejected_readings DROP CONSTRAINT rejected_readings_pkey,
  DROP CONSTRAINT rejected_readings_kafka_position_key,
  ADD CONSTRAINT rejected_readings_pkey PRIMARY KEY (id, received_at, meter_id),
  ADD CONSTRAINT rejected_readings_kafka_position_key
    UNIQUE (source_topic, kafka_partition, kafka_offset, row_index, received_at, meter_id);

ALTER TABLE meters.reading_edits DROP CONSTRAINT reading_edits_pkey,
  DROP CONSTRAINT reading_edits_kafka_partition_kafka_offset_row_index_key,
  ADD CONSTRAINT reading_edits_pkey PRIMARY KEY (id, meter_id),
  ADD CONSTRAINT reading_edits_kafka_position_key UNIQUE (kafka_partition, kafka_offset, row_index, meter_id);
