"""Per-reading features for anomaly detection, computed with numpy from the meter's own history.

Every feature compares a reading with something it should agree with: the meter's own
last 24 h (a 190 V reading is normal nowhere, a 3 kWh interval is normal for a shop but
not a flat), nominal voltage, or physics (P should equal phases * V * I * pf, so a
register that reads 0 while current flows is stuck). Rolling statistics come from
cumulative sums over rows sorted by (meter, time): no per-meter Python loop, so the same
code serves one reading (with its history) and millions (training).
"""

import numpy as np
import pandas as pd
from scipy.ndimage import maximum_filter1d

from meters.readings import ReadingColumns

ALERT_THRESHOLD = 0.85  # plan 7.1: is_anomaly, and an alert, at score >= 0.85 (torch-free: remote clients use it)
HISTORY_S = 86_400  # rolling window: 24 h before the reading, the reading itself excluded
SEQUENCE_STEPS = 8  # the LSTM sees the meter's last 2 h (at 15-minute intervals)
NOMINAL_V = 230.0
NEM_OFFSET_S = 10 * 3600

FEATURES = [
    "log_kwh_dev",  # log consumption minus the meter's 24 h mean of it
    "log_kwh_z",  # the same in units of the meter's own spread
    "log_kwh_step",  # change from the previous reading
    "log_kwh_level",  # the meter's typical size, so the model can judge a jump by who makes it
    "negative_kwh",  # reversed meter / tamper
    "zero_with_flow",  # register reads 0 while current flows
    "voltage_dev_own",  # (V - 24 h mean V) / 10 V
    "voltage_dev_nominal",  # (V - 230) / 23 V
    "power_factor",
    "power_factor_dev_own",  # (pf - 24 h mean pf) / 0.05
    "vipf_mismatch",  # log(V*I*pf) - log|P|: ~0 single phase, ~log 3 three phase, large when stuck
    "vipf_mismatch_dev_own",
    "log_current_dev_own",
    "hour_sin",
    "hour_cos",
    "weekend",
    "history_fill",  # share of the 24 h window present (0 for a meter never seen)
    "log_kwh_over_max",  # log consumption minus the largest of the meter's readings in the 24 h before: a spike tops it
    "zero_run_hours",  # hours the register has read 0 in a row, this reading included (capped at 24)
    "own_zero_share",  # share of the meter's readings of the 24 h before that were 0: is a zero run its habit?
    "kwh_z_linear",  # (kWh - 24 h mean kWh) / its spread, in kWh not log: a spike's added 0.5-2 kWh stands out here
]
# Isolation Forest sees the deviations only: calendar and size alone are not anomalies.
ISOLATION_FEATURES = [
    "log_kwh_dev", "log_kwh_z", "negative_kwh", "zero_with_flow", "voltage_dev_own",
    "voltage_dev_nominal", "power_factor", "power_factor_dev_own", "vipf_mismatch_dev_own",
    "log_current_dev_own", "log_kwh_over_max",
]
ISOLATION_INDEX = [FEATURES.index(f) for f in ISOLATION_FEATURES]
CLIP = 20.0


# A typical residential power factor, for readings that do not measure one.
UNMEASURED_PF = 0.95


def sort_by_meter_time(cols: ReadingColumns) -> np.ndarray:
    return np.lexsort((cols.reading_times_unix_s, cols.meter_ids))


def reading_features(cols: ReadingColumns, interval_s: int = 900) -> np.ndarray:
    """(n, len(FEATURES)) float32 for readings already sorted by (meter, time).

    Readings of energy only (MDFF files, VEE substitutes) have NaN voltage, current and power factor:
    their deviations become 0 and the raw power factor a typical one, so what a meter does not
    measure never looks anomalous by itself."""
    m = cols.meter_ids.astype(np.int64)
    t = cols.reading_times_unix_s.astype(np.int64)
    n = len(m)
    key = m * 10_000_000_000 + t  # unix seconds < 1e10, so keys order by meter then time
    start = np.searchsorted(key, key - HISTORY_S, side="left")
    end = np.arange(n)
    count = end - start

    def rolling_mean(x: np.ndarray) -> np.ndarray:
        ok = np.isfinite(x)
        c = np.concatenate(([0.0], np.cumsum(np.where(ok, x, 0.0))))
        k = np.concatenate(([0], np.cumsum(ok)))
        cnt = k[end] - k[start]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(cnt > 0, (c[end] - c[start]) / np.maximum(cnt, 1), np.nan)

    kwh, volt = cols.consumption_kwh, cols.voltage_v
    amps, pf, dkw = cols.current_a, cols.power_factor, cols.demand_kw
    lk = np.log(np.maximum(kwh, 0.0) + 0.01)
    lk_mean = rolling_mean(lk)
    k_mean = rolling_mean(kwh)
    lk_sd = np.sqrt(np.maximum(rolling_mean(lk * lk) - lk_mean**2, 0.0))
    prev_same = np.r_[False, m[1:] == m[:-1]]
    lk_prev = np.where(prev_same, np.r_[np.nan, lk[:-1]], np.nan)
    mismatch = np.log(np.abs(volt * amps * pf) / 1000.0 + 0.01) - np.log(np.abs(dkw) + 0.01)
    li = np.log(np.abs(amps) + 0.01)
    nem = t + NEM_OFFSET_S
    hour = (nem % 86_400) / 3600.0
    dow = (nem // 86_400 + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    v_mean = rolling_mean(volt)
    out = np.column_stack([
        lk - lk_mean,
        (lk - lk_mean) / (lk_sd + 0.1),
        lk - lk_prev,
        lk_mean,
        (kwh < 0).astype(np.float64),
        ((kwh == 0) & (amps > 0.05)).astype(np.float64),
        (volt - np.where(np.isfinite(v_mean), v_mean, 240.0)) / 10.0,
        (volt - NOMINAL_V) / (0.1 * NOMINAL_V),
        np.where(np.isfinite(pf), pf, UNMEASURED_PF),
        (pf - rolling_mean(pf)) / 0.05,
        mismatch,
        mismatch - rolling_mean(mismatch),
        li - rolling_mean(li),
        np.sin(2 * np.pi * hour / 24.0),
        np.cos(2 * np.pi * hour / 24.0),
        (dow >= 5).astype(np.float64),
        np.minimum(count * interval_s / HISTORY_S, 1.0),
        lk - trailing_max(m, lk, max(1, HISTORY_S // interval_s)),
        np.minimum(zero_run_length(m, kwh) * interval_s / 3600.0, 24.0),
        rolling_mean((kwh == 0).astype(np.float64)),
        (kwh - k_mean) / (np.sqrt(np.maximum(rolling_mean(kwh * kwh) - k_mean**2, 0.0)) + 0.05),
    ])
    # A meter without history has no "own normal": deviations are 0 and history_fill says why.
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP).astype(np.float32)


def trailing_max(m: np.ndarray, x: np.ndarray, rows: int) -> np.ndarray:
    """Largest x among each row's previous `rows` rows of the same meter (NaN where there is none).

    Rows are sorted by (meter, time). One C pass (scipy) over all rows takes the max of the window;
    a row less than `rows` after its meter's first row takes the max of its meter's earlier rows
    instead (pandas' cummax). Exact: the same value whether the row is scored alone or in a batch.
    Counted in rows: after a gap in a meter's readings the window reaches further back than 24 h
    (live history holds 24 h only; batch and live agree without gaps)."""
    n = len(x)
    if n == 0:
        return x.astype(np.float64)
    idx = np.arange(n)
    xf = np.where(np.isfinite(x), x, -np.inf).astype(np.float64)
    first = np.r_[True, m[1:] != m[:-1]]
    window = maximum_filter1d(np.r_[np.full(rows, -np.inf), xf], size=rows, origin=(rows - 1) // 2)
    prev = window[rows - 1:n + rows - 1]  # max over rows [i - rows, i - 1]
    near_start = idx - np.maximum.accumulate(np.where(first, idx, 0)) <= rows
    if near_start.any():
        upto = pd.Series(xf).groupby(m).cummax().to_numpy()  # max over the meter's rows up to i
        prev = np.where(near_start, np.r_[-np.inf, upto[:-1]], prev)
    return np.where(first | ~np.isfinite(prev), np.nan, prev)


def zero_run_length(m: np.ndarray, kwh: np.ndarray) -> np.ndarray:
    """Readings in the current run of 0 kWh of the same meter, this one included (0 for a non-zero reading)."""
    n = len(kwh)
    idx = np.arange(n)
    zero = kwh == 0
    first = np.r_[True, m[1:] != m[:-1]] if n else np.zeros(0, dtype=bool)
    last_break = np.maximum.accumulate(np.where(~zero | first, idx, 0)) if n else idx
    return np.where(zero, idx - last_break + (zero & first)[last_break], 0)


def sequence_windows(meter_ids: np.ndarray, features: np.ndarray, rows: np.ndarray,
                     steps: int = SEQUENCE_STEPS) -> np.ndarray:
    """(len(rows), steps, F+1): each row's last `steps` readings of the same meter, oldest first.

    meter_ids/features are sorted by (meter, time); earlier steps from another meter (or
    before the first row) are zeros with the extra last column (step present) at 0.
    """
    f = features.shape[1]
    out = np.zeros((len(rows), steps, f + 1), dtype=np.float32)
    for k in range(steps):  # loop over steps (8), not readings
        src = rows - (steps - 1 - k)
        ok = src >= 0
        ok[ok] = meter_ids[src[ok]] == meter_ids[rows[ok]]
        out[ok, k, :f] = features[src[ok]]
        out[ok, k, f] = 1.0
    return out
