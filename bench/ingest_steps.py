"""Where ingest's own CPU goes: each step of the hot path timed in-process on
10,000-reading batches (no Kafka, no PostgreSQL), as readings per second."""

import time

import numpy as np

from ingest_svc.publisher import rejected_message
from ingest_svc.reading_sink import ReadingRows
from ingest_svc.validation import validate
from meters.ingest.v1 import reading_pb2
from meters.pgcopy import copy_payload
from meters.readings import from_accepted, from_batch, to_batch
from tests.e2e.readings import readings

BATCH_METERS, INTERVALS, REPEAT = 100, 100, 30


def _rate(fn, n: int) -> float:
    fn()  # warm up
    started = time.perf_counter()
    for _ in range(REPEAT):
        fn()
    return round(n * REPEAT / (time.perf_counter() - started))


def run() -> dict[str, float]:
    cols = readings(1, BATCH_METERS, INTERVALS, seed=5)
    n = len(cols)
    wire = to_batch(cols).SerializeToString()
    known = np.arange(1, BATCH_METERS + 1, dtype=np.int64)
    now = int(time.time())
    verdict = validate(cols, known, now)
    accepted_wire = reading_pb2.AcceptedReadings(
        batch=to_batch(cols), quality_flags=verdict.flags.tolist()).SerializeToString()
    rows = ReadingRows(cols, verdict.flags.astype(np.int16), np.zeros(n, np.int32), np.zeros(n, np.int64),
                       np.arange(n, dtype=np.int32), np.full(n, now * 1000, dtype=np.int64))
    return {
        "ingest_step_parse_readings_per_s": _rate(lambda: from_batch(reading_pb2.ReadingBatch.FromString(wire)), n),
        "ingest_step_validate_readings_per_s": _rate(lambda: validate(cols, known, now), n),
        "ingest_step_encode_for_kafka_readings_per_s": _rate(
            lambda: reading_pb2.AcceptedReadings(batch=to_batch(cols), quality_flags=verdict.flags.tolist())
            .SerializeToString(), n),
        "writer_step_decode_readings_per_s": _rate(lambda: from_accepted(accepted_wire), n),
        "writer_step_copy_payload_readings_per_s": _rate(lambda: copy_payload(rows.columns()), n),
        "ingest_step_rejected_messages_per_s": _rate(
            lambda: [rejected_message(cols, verdict, i, 0) for i in range(1000)], 1000),
    }
