from meters.retention_window import RetentionSettings
from meters.settings import ServiceSettings


class IngestSettings(ServiceSettings, RetentionSettings):
    grpc_addr: str = "127.0.0.1:50051"
    metrics_port: int = 9101
    # How often the meter registry is re-read (meters registered elsewhere).
    registry_refresh_s: float = 30.0
    # Readings being validated and published at once, over every call (StreamReadings batches and
    # IngestReadings): a batch that does not fit is refused RESOURCE_EXHAUSTED, none of it sent to
    # Kafka, so the client re-sends it after the RetryInfo delay. ~120 bytes a reading in flight.
    max_inflight_readings: int = 200_000
    # MDFF (NEM12 / NEM13) import: the participant id files must be addressed to (the 100 record's
    # ToParticipant; "" accepts any), the NMI suffixes stored as consumption (import registers),
    # the largest file accepted by ImportNem12, and a drop folder a head-end writes files into
    # ("" = none; ingest_svc/drop_folder.py), looked at every nem12_drop_poll_s.
    nem12_participant: str = ""
    nem12_import_suffixes: str = "E1"
    nem12_max_file_bytes: int = 2 << 30
    nem12_drop_dir: str = ""
    nem12_drop_poll_s: float = 2.0
    # VEE (ingest_svc/vee_job.py): a run over the last vee_window_s of interval ends every vee_every_s
    # (0 = no scheduled runs; `meters vee run` runs one by hand).
    vee_every_s: float = 0.0
    vee_window_s: int = 2 * 86_400


class WriterSettings(ServiceSettings, RetentionSettings):
    metrics_port: int = 9106
    group_id: str = "meter-readings-writer"
    # The meter-event consumer's group (ingest_svc/event_writer.py), in the same process.
    events_group_id: str = "meter-events-writer"
    # Upper bound of Kafka messages folded into one database transaction.
    max_messages_per_write: int = 200
    # ... and of their bytes (~150,000 readings in 8 MiB): what one write holds in memory, decoded and as
    # its COPY payload, stays bounded however large the poll (a NEM12 import fills 32 MiB fetches).
    max_bytes_per_write: int = 8 << 20
