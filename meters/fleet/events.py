"""Planted transformer events: failures with a 48-72 h degradation lead, and degradations that recover.

Planned once for the whole run (a small table), so every day-chunk sees the same
events. `progress` maps a time to how far a transformer's degradation has gone
(0 = healthy, 1 = at failure or at its worst), which load.py and telemetry.py
turn into overload, heating, falling efficiency and more voltage sags.
"""

import numpy as np
import pandas as pd

from meters.fleet.config import FleetConfig
from meters.fleet.topology import Topology

FAILURE, DEGRADATION_RECOVERED = "failure", "degradation_recovered"
RECOVERY_HOURS = 18.0  # a recovered degradation fades over this long after its worst point


def plan_transformer_events(cfg: FleetConfig, topology: Topology) -> pd.DataFrame:
    """One row per event: transformer_id, event_type, degradation_start_unix_s, event_unix_s, end_unix_s, lead_hours.

    event_unix_s is the failure time (or a recovered degradation's worst point);
    end_unix_s is supply restored (or the signature gone). Older transformers fail more.
    """
    rng = np.random.default_rng([cfg.seed, 2])
    tx = topology.transformers
    n = len(tx)
    weeks = cfg.days / 7.0
    age_weight = (0.5 + tx["age_years"].to_numpy() / 30.0)
    age_weight /= age_weight.mean()
    u = rng.random(n)
    p_fail = np.clip(cfg.failure_rate_per_week * weeks * age_weight, 0.0, 0.95)
    p_degr = np.clip(cfg.degradation_only_rate_per_week * weeks, 0.0, 0.95)
    kind = np.where(u < p_fail, 1, np.where(u < p_fail + p_degr, 2, 0))
    idx = np.flatnonzero(kind)
    lead_h = rng.uniform(*cfg.degradation_lead_hours, len(idx))
    span_s = cfg.days * 86_400
    # Place the event so its whole lead lies inside the run when the run is long enough.
    earliest = np.where(span_s > lead_h * 3600 + 3600, lead_h * 3600, 0.0)
    event_t = cfg.start_unix_s + earliest + rng.random(len(idx)) * (span_s - earliest)
    event_t = (event_t // 60 * 60).astype(np.int64)
    outage_h = rng.uniform(*cfg.outage_hours, len(idx))
    failed = kind[idx] == 1
    end_t = event_t + np.where(failed, outage_h, RECOVERY_HOURS) * 3600
    return pd.DataFrame({
        "transformer_id": tx["transformer_id"].to_numpy()[idx],
        "event_type": np.where(failed, FAILURE, DEGRADATION_RECOVERED),
        "degradation_start_unix_s": (event_t - lead_h * 3600).astype(np.int64),
        "event_unix_s": event_t,
        "end_unix_s": end_t.astype(np.int64),
        "lead_hours": np.round(lead_h, 2),
    })


def progress(events: pd.DataFrame, tx_index: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Degradation progress (0..1) and out-of-service flag, arrays (len(tx_index), len(times)).

    tx_index holds 0-based transformer row numbers; progress grows quadratically
    (slow start, fast end), which is what makes the last 48 h distinguishable.
    """
    prog = np.zeros((len(tx_index), len(times)))
    outage = np.zeros((len(tx_index), len(times)), dtype=bool)
    if events.empty:
        return prog, outage
    rows = events["transformer_id"].to_numpy() - 1
    pos = np.searchsorted(tx_index, rows)
    pos_ok = (pos < len(tx_index)) & (tx_index[np.minimum(pos, len(tx_index) - 1)] == rows)
    t = times[None, :].astype(np.float64)
    for col, ev in zip(pos[pos_ok], events[pos_ok].itertuples(index=False)):  # loop over events, not readings
        start, at, end = ev.degradation_start_unix_s, ev.event_unix_s, ev.end_unix_s
        rising = np.clip((t[0] - start) / (at - start), 0.0, 1.0) ** 2 * (t[0] >= start) * (t[0] < at)
        if ev.event_type == FAILURE:
            prog[col] = np.maximum(prog[col], rising)
            outage[col] |= (t[0] >= at) & (t[0] < end)
        else:
            fading = np.clip(1.0 - (t[0] - at) / (end - at), 0.0, 1.0) * (t[0] >= at)
            prog[col] = np.maximum(prog[col], np.maximum(rising, fading))
    return prog, outage
