"""Reading validation (plan section 5.2) over whole columns at once.

Each reading gets one rejection reason (0 = accepted, the highest-precedence
fault wins) and, when accepted, one quality flag. No gRPC here.
"""

from dataclasses import dataclass

import numpy as np

from meters.ingest.v1.reading_pb2 import QualityFlag, RejectionReason
from meters.readings import FLOAT_COLUMNS, ReadingColumns
from meters.retention_window import RetentionWindow

R = RejectionReason
Q = QualityFlag


@dataclass(frozen=True)
class Limits:
    voltage_min_v: float = 180.0
    voltage_max_v: float = 280.0
    voltage_warn_low_v: float = 210.0
    voltage_warn_high_v: float = 250.0
    pf_warn_below: float = 0.8
    # Power frequency (NaN = not reported, never a missing value). Outside 45-65 Hz no meter on the
    # 50 Hz NEM measures anything real: rejected. The warning band is the normal operating frequency
    # band of the AEMC Reliability Panel's Frequency Operating Standard, which AEMO operates the NEM
    # to (mainland: 49.85-50.15 Hz, to be held 99 % of the time; the wider 49.5-50.5 Hz is where a
    # generation, load or network event may take it, back inside the normal band within 5 minutes).
    # The normal band, not the contingency one: frequency outside it is already an event worth a flag,
    # and normal variation (std ~0.02-0.03 Hz) stays well inside it.
    frequency_min_hz: float = 45.0
    frequency_max_hz: float = 65.0
    frequency_warn_low_hz: float = 49.85
    frequency_warn_high_hz: float = 50.15
    max_future_skew_s: int = 300
    # Readings older than this are refused: the retention job would drop their partition anyway.
    window: RetentionWindow = RetentionWindow()


@dataclass(frozen=True)
class Verdict:
    reasons: np.ndarray  # RejectionReason per reading (int8); 0 = accepted
    flags: np.ndarray  # QualityFlag per reading (int8); meaningful where accepted
    limits: Limits = Limits()  # what the readings were judged against, for the rejection details

    @property
    def accepted(self) -> np.ndarray:
        return self.reasons == 0


def validate(cols: ReadingColumns, known_meters: np.ndarray, now_s: int, limits: Limits = Limits(),
             energy_only: bool = False, preset: np.ndarray | None = None) -> Verdict:
    """Judge every reading; `known_meters` is the sorted array of registered meter ids.

    `energy_only` readings (MDFF intervals, VEE substitutes) measure energy alone: their voltage,
    current and power factor are NaN by nature, not missing. `preset` holds reasons found before
    validation (an MDFF import's: null intervals, malformed records...), which take precedence."""
    v, pf, f = cols.voltage_v, cols.power_factor, cols.frequency_hz
    with np.errstate(invalid="ignore"):
        checks = [  # lowest precedence first: later checks overwrite earlier reasons
            (R.REJECTION_REASON_NEGATIVE_VALUE, (cols.demand_kw < 0) | (cols.current_a < 0)),
            (R.REJECTION_REASON_POWER_FACTOR_OUT_OF_RANGE, (pf < 0) | (pf > 1)),
            (R.REJECTION_REASON_FREQUENCY_OUT_OF_RANGE, (f < limits.frequency_min_hz) | (f > limits.frequency_max_hz)),
            (R.REJECTION_REASON_VOLTAGE_OUT_OF_RANGE, (v < limits.voltage_min_v) | (v > limits.voltage_max_v)),
            (R.REJECTION_REASON_NEGATIVE_CONSUMPTION, cols.consumption_kwh < 0),
            *time_checks(cols.reading_times_unix_s, now_s, limits),
            (R.REJECTION_REASON_MISSING_VALUE, _missing(cols, ENERGY_COLUMNS if energy_only else FLOAT_COLUMNS)),
            (R.REJECTION_REASON_UNKNOWN_METER, ~_isin_sorted(cols.meter_ids, known_meters)),
        ]
        if preset is not None:
            checks.append((preset, preset != 0))
    reasons = judge(checks, len(cols))
    reasons[_later_duplicates(cols, reasons == 0)] = R.REJECTION_REASON_DUPLICATE_READING

    flags = np.full(len(cols), Q.QUALITY_FLAG_NORMAL, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        flags[pf < limits.pf_warn_below] = Q.QUALITY_FLAG_PF_WARNING
        flags[(f < limits.frequency_warn_low_hz) | (f > limits.frequency_warn_high_hz)] = Q.QUALITY_FLAG_FREQUENCY_WARNING
        flags[(v < limits.voltage_warn_low_v) | (v > limits.voltage_warn_high_v)] = Q.QUALITY_FLAG_VOLTAGE_WARNING
    return Verdict(reasons, flags, limits)


def time_checks(times: np.ndarray, now_s: int, limits: Limits) -> list[tuple[int, np.ndarray]]:
    """Times outside what is kept: too far ahead, older than the retention window, before the oldest date.

    The writer applies the same checks again before it creates a partition (ingest_svc/reading_sink.py).
    """
    checks = [(R.REJECTION_REASON_FUTURE_TIMESTAMP, times > now_s + limits.max_future_skew_s),
              (R.REJECTION_REASON_TOO_OLD, times < limits.window.start_s(now_s))]
    if limits.window.oldest_s is not None:
        checks.append((R.REJECTION_REASON_BEFORE_OLDEST_DATE, times < limits.window.oldest_s))
    return checks


def judge(checks: list[tuple[int | np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """One reason per reading (int8, 0 = none): the last check in `checks` that fails it wins (a check's
    reason may be an array: one per reading)."""
    reasons = np.zeros(n, dtype=np.int8)
    for reason, bad in checks:
        reasons[bad] = reason[bad] if isinstance(reason, np.ndarray) else reason
    return reasons


ENERGY_COLUMNS = ("consumption_kwh", "demand_kw")


def _missing(cols: ReadingColumns, required: tuple[str, ...] = FLOAT_COLUMNS) -> np.ndarray:
    bad = cols.reading_times_unix_s <= 0
    for name in required:
        bad |= ~np.isfinite(getattr(cols, name))
    return bad


def _isin_sorted(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    if len(sorted_ids) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.searchsorted(sorted_ids, values).clip(max=len(sorted_ids) - 1)
    return sorted_ids[pos] == values


def _later_duplicates(cols: ReadingColumns, candidates: np.ndarray) -> np.ndarray:
    """Mask of readings repeating an earlier candidate's (meter, time) in this request."""
    idx = np.flatnonzero(candidates)
    order = np.lexsort((idx, cols.reading_times_unix_s[idx], cols.meter_ids[idx]))
    m, t = cols.meter_ids[idx][order], cols.reading_times_unix_s[idx][order]
    repeat = np.zeros(len(idx), dtype=bool)
    repeat[1:] = (m[1:] == m[:-1]) & (t[1:] == t[:-1])
    dup = np.zeros(len(cols), dtype=bool)
    dup[idx[order][repeat]] = True
    return dup


def describe(reason: int, cols: ReadingColumns, i: int, limits: Limits = Limits()) -> str:
    """A human-readable detail for rejected reading i."""
    r = RejectionReason
    if reason == r.REJECTION_REASON_UNKNOWN_METER:
        return f"meter {cols.meter_ids[i]} is not registered"
    if reason == r.REJECTION_REASON_MISSING_VALUE:
        missing = [n for n in FLOAT_COLUMNS if not np.isfinite(getattr(cols, n)[i])]
        if cols.reading_times_unix_s[i] <= 0:
            missing.insert(0, "reading_times_unix_s")
        return "missing or non-finite: " + ", ".join(missing)
    if reason == r.REJECTION_REASON_FUTURE_TIMESTAMP:
        return f"reading time {cols.reading_times_unix_s[i]} is more than {limits.max_future_skew_s} s in the future"
    if reason == r.REJECTION_REASON_TOO_OLD:
        return f"reading time {cols.reading_times_unix_s[i]} is older than the {limits.window.months}-month retention window"
    if reason == r.REJECTION_REASON_BEFORE_OLDEST_DATE:
        return f"reading time {cols.reading_times_unix_s[i]} is before the oldest reading date {limits.window.oldest_date}"
    if reason == r.REJECTION_REASON_NEGATIVE_CONSUMPTION:
        return f"consumption {cols.consumption_kwh[i]} kWh is negative"
    if reason == r.REJECTION_REASON_VOLTAGE_OUT_OF_RANGE:
        return f"voltage {cols.voltage_v[i]} V outside {limits.voltage_min_v:g}-{limits.voltage_max_v:g} V"
    if reason == r.REJECTION_REASON_FREQUENCY_OUT_OF_RANGE:
        return (f"frequency {cols.frequency_hz[i]} Hz outside {limits.frequency_min_hz:g}-{limits.frequency_max_hz:g} Hz")
    if reason == r.REJECTION_REASON_POWER_FACTOR_OUT_OF_RANGE:
        return f"power factor {cols.power_factor[i]} outside 0-1"
    if reason == r.REJECTION_REASON_NEGATIVE_VALUE:
        return f"negative demand ({cols.demand_kw[i]} kW) or current ({cols.current_a[i]} A)"
    if reason == r.REJECTION_REASON_DUPLICATE_READING:
        return f"meter {cols.meter_ids[i]} at {cols.reading_times_unix_s[i]} appears earlier in the same request"
    return RejectionReason.Name(reason)
