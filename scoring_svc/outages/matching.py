"""Detected outages against planted truth: one-to-one matches by overlapping meters and start time."""

import numpy as np
import pandas as pd

from meters.fleet.outages import meter_ranges

START_TOLERANCE_S = 900  # a detection from readings alone knows the start to an interval


def match_outages(detected: pd.DataFrame, truth: pd.DataFrame, topology,
                  tolerance_s: float = START_TOLERANCE_S) -> pd.DataFrame:
    """Pairs (detected index, truth index): meter ranges overlap and starts within tolerance, nearest start first."""
    if detected.empty or truth.empty:
        return pd.DataFrame({"detected": pd.Series(dtype=np.int64), "truth": pd.Series(dtype=np.int64)})
    dlo, dhi = meter_ranges(topology, detected["level"].to_numpy(), detected["asset_id"].to_numpy())
    tlo, thi = meter_ranges(topology, truth["level"].to_numpy(), truth["asset_id"].to_numpy())
    ds, ts = detected["started_unix_s"].to_numpy(float), truth["started_unix_s"].to_numpy(float)
    order = np.argsort(ts)
    ts_sorted = ts[order]
    pairs = []
    for i in range(len(detected)):
        a, b = np.searchsorted(ts_sorted, [ds[i] - tolerance_s, ds[i] + tolerance_s + 1e-9])
        for j in order[a:b]:
            if dlo[i] < thi[j] and tlo[j] < dhi[i]:
                pairs.append((abs(ds[i] - ts[j]), i, j))
    pairs.sort()
    used_d, used_t, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
            out.append((detected.index[i], truth.index[j]))
    return pd.DataFrame(out, columns=["detected", "truth"], dtype=np.int64)
