"""Validation rules of plan section 5.2, one reading at a time and in bulk."""

import numpy as np
import pytest

from datetime import date

from ingest_svc.validation import Limits, describe, validate
from meters.ingest.v1.reading_pb2 import QualityFlag as Q
from meters.ingest.v1.reading_pb2 import RejectionReason as R
from meters.readings import from_arrays
from meters.retention_window import RetentionWindow

NOW = 1_767_000_000
KNOWN = np.array([1, 2, 3], dtype=np.int64)


def one(**overrides):
    row = dict(meter_ids=1, reading_times_unix_s=NOW - 900, consumption_kwh=0.25, demand_kw=1.0,
               voltage_v=230.0, current_a=4.5, power_factor=0.95)
    row.update(overrides)
    return from_arrays(**{k: np.array([v]) for k, v in row.items()})


@pytest.mark.parametrize("overrides, reason", [
    ({}, 0),
    ({"consumption_kwh": -0.001}, R.REJECTION_REASON_NEGATIVE_CONSUMPTION),
    ({"consumption_kwh": 0.0}, 0),
    ({"voltage_v": 179.99}, R.REJECTION_REASON_VOLTAGE_OUT_OF_RANGE),
    ({"voltage_v": 180.0}, 0),
    ({"voltage_v": 280.0}, 0),
    ({"voltage_v": 280.01}, R.REJECTION_REASON_VOLTAGE_OUT_OF_RANGE),
    ({"power_factor": -0.01}, R.REJECTION_REASON_POWER_FACTOR_OUT_OF_RANGE),
    ({"power_factor": 1.01}, R.REJECTION_REASON_POWER_FACTOR_OUT_OF_RANGE),
    ({"power_factor": 0.0}, 0),
    ({"voltage_v": np.nan}, R.REJECTION_REASON_MISSING_VALUE),
    ({"consumption_kwh": np.inf}, R.REJECTION_REASON_MISSING_VALUE),
    ({"reading_times_unix_s": 0}, R.REJECTION_REASON_MISSING_VALUE),
    ({"reading_times_unix_s": NOW + 3600}, R.REJECTION_REASON_FUTURE_TIMESTAMP),
    ({"reading_times_unix_s": NOW + 60}, 0),
    ({"meter_ids": 99}, R.REJECTION_REASON_UNKNOWN_METER),
    ({"demand_kw": -1.0}, R.REJECTION_REASON_NEGATIVE_VALUE),
    ({"reading_times_unix_s": 1}, R.REJECTION_REASON_TOO_OLD),  # would have made ~20,000 daily partitions
    ({"reading_times_unix_s": NOW - 732 * 86_400}, R.REJECTION_REASON_TOO_OLD),
    ({"reading_times_unix_s": NOW - 729 * 86_400}, 0),
])
def test_each_rule(overrides, reason):
    cols = one(**overrides)
    verdict = validate(cols, KNOWN, NOW)
    assert verdict.reasons[0] == reason
    if reason:
        assert describe(reason, cols, 0)


@pytest.mark.parametrize("voltage, pf, flag", [
    (230.0, 0.95, Q.QUALITY_FLAG_NORMAL),
    (209.9, 0.95, Q.QUALITY_FLAG_VOLTAGE_WARNING),
    (250.1, 0.95, Q.QUALITY_FLAG_VOLTAGE_WARNING),
    (230.0, 0.79, Q.QUALITY_FLAG_PF_WARNING),
    (195.0, 0.5, Q.QUALITY_FLAG_VOLTAGE_WARNING),  # the plan's CASE: voltage wins
])
def test_quality_flags(voltage, pf, flag):
    verdict = validate(one(voltage_v=voltage, power_factor=pf), KNOWN, NOW)
    assert verdict.reasons[0] == 0 and verdict.flags[0] == flag


def test_unknown_meter_outranks_bad_values():
    verdict = validate(one(meter_ids=42, voltage_v=np.nan), KNOWN, NOW)
    assert verdict.reasons[0] == R.REJECTION_REASON_UNKNOWN_METER


def test_duplicates_in_one_request_keep_the_first():
    cols = from_arrays(
        meter_ids=np.array([1, 2, 1, 1]), reading_times_unix_s=np.array([NOW, NOW, NOW, NOW - 900]),
        consumption_kwh=np.array([0.1, 0.2, 0.3, 0.4]), demand_kw=np.ones(4), voltage_v=np.full(4, 230.0),
        current_a=np.ones(4), power_factor=np.full(4, 0.9),
    )
    verdict = validate(cols, KNOWN, NOW)
    assert verdict.reasons.tolist() == [0, 0, R.REJECTION_REASON_DUPLICATE_READING, 0]


def test_an_invalid_first_copy_does_not_hide_a_valid_second():
    cols = from_arrays(
        meter_ids=np.array([1, 1]), reading_times_unix_s=np.array([NOW, NOW]),
        consumption_kwh=np.array([-1.0, 0.3]), demand_kw=np.ones(2), voltage_v=np.full(2, 230.0),
        current_a=np.ones(2), power_factor=np.full(2, 0.9),
    )
    assert validate(cols, KNOWN, NOW).reasons.tolist() == [R.REJECTION_REASON_NEGATIVE_CONSUMPTION, 0]


def test_bulk_matches_row_by_row():
    rng = np.random.default_rng(7)
    n = 5000
    cols = from_arrays(
        meter_ids=rng.integers(0, 5, n), reading_times_unix_s=NOW - rng.integers(-1000, 10_000_000, n),
        consumption_kwh=rng.normal(0.3, 0.3, n), demand_kw=rng.normal(1, 1, n),
        voltage_v=rng.normal(230, 30, n), current_a=rng.normal(4, 3, n), power_factor=rng.normal(0.9, 0.1, n),
    )
    bulk = validate(cols, KNOWN, NOW)
    assert 0 < bulk.accepted.sum() < n
    for i in rng.choice(n, 300, replace=False):
        single = validate(cols.take(np.array([i])), KNOWN, NOW)
        if bulk.reasons[i] != R.REJECTION_REASON_DUPLICATE_READING:
            assert single.reasons[0] == bulk.reasons[i]


# NOW is 2025-12-29 09:20:00 UTC: the default 24-month window starts 2023-12-29 09:20:00 UTC.
WINDOW_START = 1_703_841_600


def test_the_window_edge_is_24_calendar_months_to_the_second():
    assert RetentionWindow().start_s(NOW) == WINDOW_START
    cols = from_arrays(**{**{k: np.repeat(v, 2) for k, v in vars(one()).items()},
                          "meter_ids": np.array([1, 2]), "reading_times_unix_s": np.array([WINDOW_START - 1, WINDOW_START])})
    assert validate(cols, KNOWN, NOW).reasons.tolist() == [R.REJECTION_REASON_TOO_OLD, 0]


def test_retention_months_and_oldest_date_are_configurable():
    limits = Limits(window=RetentionWindow(months=3, oldest_date=date(2025, 11, 1)))
    four_months = one(reading_times_unix_s=NOW - 120 * 86_400)
    before_go_live = one(reading_times_unix_s=1_761_955_200 - 1)  # 2025-10-31 23:59:59 UTC
    on_go_live = one(reading_times_unix_s=1_761_955_200)
    assert validate(four_months, KNOWN, NOW, limits).reasons[0] == R.REJECTION_REASON_BEFORE_OLDEST_DATE
    assert validate(one(reading_times_unix_s=NOW - 100 * 86_400), KNOWN, NOW,
                    Limits(window=RetentionWindow(months=3))).reasons[0] == R.REJECTION_REASON_TOO_OLD
    verdict = validate(before_go_live, KNOWN, NOW, limits)
    assert verdict.reasons[0] == R.REJECTION_REASON_BEFORE_OLDEST_DATE
    assert "2025-11-01" in describe(int(verdict.reasons[0]), before_go_live, 0, limits)
    assert validate(on_go_live, KNOWN, NOW, limits).reasons[0] == 0


def test_a_missing_time_or_unknown_meter_outranks_the_window():
    assert validate(one(reading_times_unix_s=0), KNOWN, NOW).reasons[0] == R.REJECTION_REASON_MISSING_VALUE
    assert validate(one(reading_times_unix_s=1, meter_ids=99), KNOWN, NOW).reasons[0] == R.REJECTION_REASON_UNKNOWN_METER
