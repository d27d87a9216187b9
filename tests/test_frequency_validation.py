"""Power frequency on readings: optional column, hard range, the normal operating band's warning, and the
column's way through the batch, the Kafka message and the writer's COPY rows."""

import numpy as np
import pytest

from ingest_svc.ingest import check_shape, summarize
from ingest_svc.reading_sink import READING_COLUMNS, ReadingRows
from ingest_svc.validation import describe, validate
from meters.errors import DomainError, FieldViolation
from meters.ingest.v1 import reading_pb2
from meters.ingest.v1.reading_pb2 import QualityFlag as Q
from meters.ingest.v1.reading_pb2 import RejectionReason as R
from meters.pbcolumns import encode_accepted
from meters.pgcopy import read_copy_payload
from meters.readings import ReadingColumns, from_accepted, from_arrays, from_batch, to_batch

NOW = 1_767_000_000
KNOWN = np.array([1, 2, 3], dtype=np.int64)


def one(**overrides) -> ReadingColumns:
    row = dict(meter_ids=1, reading_times_unix_s=NOW - 900, consumption_kwh=0.25, demand_kw=1.0,
               voltage_v=230.0, current_a=4.5, power_factor=0.95)
    row.update(overrides)
    return from_arrays(**{k: np.array([v]) for k, v in row.items()})


@pytest.mark.parametrize("hz, reason, flag", [
    (50.0, 0, Q.QUALITY_FLAG_NORMAL),
    (49.85, 0, Q.QUALITY_FLAG_NORMAL),  # the normal operating band's edges are inside it
    (50.15, 0, Q.QUALITY_FLAG_NORMAL),
    (49.84, 0, Q.QUALITY_FLAG_FREQUENCY_WARNING),
    (50.16, 0, Q.QUALITY_FLAG_FREQUENCY_WARNING),
    (49.6, 0, Q.QUALITY_FLAG_FREQUENCY_WARNING),  # a generator trip's nadir: a warning, never rejected
    (45.0, 0, Q.QUALITY_FLAG_FREQUENCY_WARNING),
    (65.0, 0, Q.QUALITY_FLAG_FREQUENCY_WARNING),
    (44.99, R.REJECTION_REASON_FREQUENCY_OUT_OF_RANGE, None),
    (65.01, R.REJECTION_REASON_FREQUENCY_OUT_OF_RANGE, None),
    (0.0, R.REJECTION_REASON_FREQUENCY_OUT_OF_RANGE, None),
    (np.inf, R.REJECTION_REASON_FREQUENCY_OUT_OF_RANGE, None),
    (np.nan, 0, Q.QUALITY_FLAG_NORMAL),  # not reported: accepted, nothing missing
])
def test_frequency_rules(hz, reason, flag):
    cols = one(frequency_hz=hz)
    verdict = validate(cols, KNOWN, NOW)
    assert verdict.reasons[0] == reason
    if reason:
        assert describe(reason, cols, 0) == f"frequency {hz} Hz outside 45-65 Hz"
    else:
        assert verdict.flags[0] == flag


def test_not_reported_at_all_is_nan_and_accepted():
    cols = one()  # no frequency_hz given, as every client before the column
    assert np.isnan(cols.frequency_hz).all() and len(cols.frequency_hz) == 1
    assert validate(cols, KNOWN, NOW).reasons[0] == 0


def test_voltage_warning_wins_over_frequency_which_wins_over_power_factor():
    assert validate(one(frequency_hz=49.6, voltage_v=200.0), KNOWN, NOW).flags[0] == Q.QUALITY_FLAG_VOLTAGE_WARNING
    assert validate(one(frequency_hz=49.6, power_factor=0.5), KNOWN, NOW).flags[0] == Q.QUALITY_FLAG_FREQUENCY_WARNING


def test_a_bad_voltage_is_named_before_a_bad_frequency():
    assert validate(one(frequency_hz=70.0, voltage_v=300.0), KNOWN, NOW).reasons[0] == \
        R.REJECTION_REASON_VOLTAGE_OUT_OF_RANGE


def test_summary_counts_frequency_warnings():
    cols = ReadingColumns.concat([one(frequency_hz=hz, reading_times_unix_s=NOW - 900 * (i + 1))
                                  for i, hz in enumerate((50.0, 49.7, 50.3, np.nan, 80.0))])
    summary = summarize(validate(cols, KNOWN, NOW))
    assert (summary.accepted, summary.rejected, summary.frequency_warnings) == (4, 1, 2)
    assert [(r.reason, r.count) for r in summary.rejections] == [(R.REJECTION_REASON_FREQUENCY_OUT_OF_RANGE, 1)]


def _batch(n: int, frequency: list[float] | None) -> reading_pb2.ReadingBatch:
    batch = reading_pb2.ReadingBatch(meter_ids=[1] * n, reading_times_unix_s=[NOW - 900 * (i + 1) for i in range(n)],
                                     consumption_kwh=[0.1] * n, demand_kw=[0.4] * n, voltage_v=[230.0] * n,
                                     current_a=[1.0] * n, power_factor=[0.9] * n)
    if frequency is not None:
        batch.frequency_hz.extend(frequency)
    return batch


def test_an_empty_column_is_not_reported_and_a_short_one_is_malformed():
    check_shape(_batch(3, None), "batch")
    assert np.isnan(from_batch(_batch(3, None)).frequency_hz).all()
    check_shape(_batch(3, [50.0, np.nan, 49.9]), "batch")
    with pytest.raises(DomainError) as err:
        check_shape(_batch(3, [50.0, 49.9]), "batch")
    assert err.value.violations == [FieldViolation("batch.frequency_hz", "has 2 values but batch.meter_ids has 3")]


def test_to_batch_leaves_an_unreported_column_empty_and_keeps_a_reported_one():
    assert len(to_batch(from_batch(_batch(2, None))).frequency_hz) == 0
    back = from_batch(to_batch(from_batch(_batch(2, [np.nan, 50.01]))))
    np.testing.assert_array_equal(back.frequency_hz, [np.nan, 50.01])


@pytest.mark.parametrize("frequency", [None, [np.nan, np.nan, np.nan], [50.02, np.nan, 49.61]])
def test_kafka_message_carries_frequency_as_protobuf_writes_it(frequency):
    cols = from_batch(_batch(3, frequency))
    flags = np.ones(3, dtype=np.int64)
    ours = encode_accepted(cols, flags, 0)
    assert ours == reading_pb2.AcceptedReadings(batch=to_batch(cols), quality_flags=flags.tolist()).SerializeToString()
    got, _ = from_accepted(ours)
    np.testing.assert_array_equal(got.frequency_hz, cols.frequency_hz)
    # An old writer's message (no column) reads as not reported.
    old = reading_pb2.AcceptedReadings(batch=_batch(3, None), quality_flags=[1, 1, 1]).SerializeToString()
    assert np.isnan(from_accepted(old)[0].frequency_hz).all()


def test_writer_copy_rows_end_with_frequency():
    cols = from_batch(_batch(2, [49.93, np.nan]))
    rows = ReadingRows(cols, np.ones(2, np.int16), np.zeros(2, np.int32), np.zeros(2, np.int64),
                       np.arange(2, dtype=np.int32), np.zeros(2, np.int64))
    assert READING_COLUMNS.endswith("frequency_hz")
    types = [t for t, _ in rows.columns()]
    stored = read_copy_payload(rows.copy_payload(), types)[-1]
    np.testing.assert_array_equal(stored, [49.93, np.nan])
