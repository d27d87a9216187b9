"""Planted energy theft (revenue protection truth): meter bypass and flat-lining after a tamper.

- bypass: from started_unix_s a share (15-60 %) of the premise's true load is wired around the
  meter and never metered. About half of them leave a tamper or cover-open event near the start.
- flatline: after a tamper event the register records a small constant (3-10 % of the premise's
  mean interval load) whatever is drawn; unmetered_share is then 1 - that share (nominal).

The transformer still carries the true load (chunks.py): its energy_kwh does not drop, which is
what an energy balance sees. On ~0.5-1 % of meters, drawn from their own stream ([seed, 14]).
"""

import numpy as np
import pandas as pd

from meters.fleet.config import FleetConfig
from meters.fleet.topology import Topology

THEFT_METER_SHARE = (0.005, 0.01)
BYPASS_SHARE = (0.15, 0.60)
FLATLINE_SHARE = 0.12  # of thefts
FLAT_LEVEL = (0.03, 0.10)  # flat register as a share of the premise's mean interval load
BYPASS_TAMPER_P = 0.5  # share of bypasses leaving a tamper / cover-open event


def plan_thefts(cfg: FleetConfig, topology: Topology) -> pd.DataFrame:
    """meter_id, transformer_id, started_unix_s, unmetered_share, kind ('bypass'|'flatline'), tamper_event."""
    rng = np.random.default_rng([cfg.seed, 14])
    n_m = len(topology.meters)
    n = int(round(n_m * rng.uniform(*THEFT_METER_SHARE)))
    rows = np.sort(rng.choice(n_m, size=n, replace=False))
    flat = rng.random(n) < FLATLINE_SHARE
    span = cfg.days * 86_400
    # Start inside the run, leaving history before it and evidence after it.
    started = cfg.start_unix_s + (rng.uniform(0.15, 0.8, n) * span).astype(np.int64) // 60 * 60
    share = np.where(flat, 1.0 - rng.uniform(*FLAT_LEVEL, n), rng.uniform(*BYPASS_SHARE, n))
    tamper = flat | (rng.random(n) < BYPASS_TAMPER_P)
    return pd.DataFrame({
        "meter_id": topology.meters["meter_id"].to_numpy()[rows],
        "transformer_id": topology.meters["transformer_id"].to_numpy()[rows],
        "started_unix_s": started.astype(np.int64),
        "unmetered_share": np.round(share, 4),
        "kind": np.where(flat, "flatline", "bypass"),
        "tamper_event": tamper,
    })


class TheftPlan:
    """Per meter row: theft start (inf if none), unmetered share, flat register level (kWh/interval, 0 = bypass)."""

    def __init__(self, cfg: FleetConfig, topology: Topology, thefts: pd.DataFrame):
        n = len(topology.meters)
        rows = thefts["meter_id"].to_numpy() - 1
        self.start = np.full(n, np.inf)
        self.share = np.zeros(n)
        self.flat_kwh = np.zeros(n)
        self.start[rows] = thefts["started_unix_s"].to_numpy()
        flat = thefts["kind"].to_numpy() == "flatline"
        self.share[rows] = np.where(flat, 0.0, thefts["unmetered_share"].to_numpy())
        daily = topology.meter_parameters["daily_kwh"].to_numpy()[rows]
        self.flat_kwh[rows] = np.where(flat, (1.0 - thefts["unmetered_share"].to_numpy()) * daily / cfg.intervals_per_day, 0.0)

    def active(self, a: int, b: int, times: np.ndarray) -> np.ndarray | None:
        """(b-a, T) bool: theft in effect over the interval ending at times; None if no theft in rows a..b."""
        s = self.start[a:b]
        if not np.isfinite(s).any():
            return None
        return (times[None, :] - 1) >= s[:, None]  # interval end after the start
