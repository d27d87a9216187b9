"""Planted meter anomalies: codes, episode placement, and what each does to a reading.

Anomalies come as short episodes (a stuck register stays stuck for hours), placed
with one uniform draw per reading and one running maximum along time: no loop over
readings. Rates in FleetConfig are shares of readings, so episode starts are drawn
at rate / mean episode length.
"""

import numpy as np

from meters.fleet.config import FleetConfig

ANOMALY_CODES: dict[str, int] = {
    "normal": 0,
    "voltage_sag": 1,
    "voltage_swell": 2,
    "power_factor_collapse": 3,
    "consumption_spike": 4,
    "stuck_at_zero": 5,
    "reverse_flow": 6,
    "missing_interval": 7,  # absent row, listed in truth/missing_readings
    "transformer_outage": 8,  # absent row: the supplying transformer failed
    "supply_outage": 9,  # absent row: any other planted outage (truth/outages.parquet)
}
ANOMALY_NAMES = {v: k for k, v in ANOMALY_CODES.items()}

# Mean episode length in hours (at least one interval).
EPISODE_HOURS = {
    "voltage_sag": 0.5,
    "voltage_swell": 0.5,
    "power_factor_collapse": 1.0,
    "consumption_spike": 0.25,
    "stuck_at_zero": 4.0,
    "reverse_flow": 3.0,
    "missing_interval": 1.0,
}


def plant_episodes(cfg: FleetConfig, rng: np.random.Generator, shape: tuple[int, int],
                   extra_sag_prob: np.ndarray | None = None) -> np.ndarray:
    """Anomaly code per (meter, interval), uint8; extra_sag_prob adds per-reading sag starts (degradation)."""
    interval_h = cfg.interval_minutes / 60.0
    names = list(cfg.anomaly_rates)
    mean_len = np.array([max(1.0, EPISODE_HOURS[k] / interval_h) for k in names])
    start_p = np.array([cfg.anomaly_rates[k] for k in names]) / mean_len
    cum = np.cumsum(start_p)
    u = rng.random(shape, dtype=np.float32)
    starts = u < cum[-1]
    if extra_sag_prob is not None:
        extra = (u >= cum[-1]) & (u < cum[-1] + extra_sag_prob)
    else:
        extra = np.zeros(shape, dtype=bool)
    m_idx, t_idx = np.nonzero(starts | extra)
    if len(m_idx) == 0:
        return np.zeros(shape, dtype=np.uint8)
    kind = np.searchsorted(cum, u[m_idx, t_idx], side="right")
    is_extra = kind >= len(names)
    kind = np.minimum(kind, len(names) - 1)
    codes = np.array([ANOMALY_CODES[k] for k in names], dtype=np.int64)[kind]
    codes[is_extra] = ANOMALY_CODES["voltage_sag"]
    p = 1.0 / np.where(is_extra, max(1.0, EPISODE_HOURS["voltage_sag"] / interval_h), mean_len[kind])
    length = rng.geometric(p)
    # key = episode end * 16 + code; a running max along time carries the episode forward.
    key = np.full(shape, -1, dtype=np.int64)
    key[m_idx, t_idx] = (t_idx + length) * 16 + codes
    np.maximum.accumulate(key, axis=1, out=key)
    t_grid = np.arange(shape[1], dtype=np.int64)[None, :]
    covered = (key >> 4) > t_grid
    return np.where(covered, key & 15, 0).astype(np.uint8)


def apply_value_anomalies(code: np.ndarray, rng: np.random.Generator, energy: np.ndarray,
                          voltage: np.ndarray, pf: np.ndarray) -> None:
    """Distort energy, voltage and power factor in place where code says so.

    Sag, swell, PF collapse and spikes keep P = V*I*pf (current is derived after);
    stuck_at_zero and reverse_flow are applied later by the caller because they
    break the register, not the physics.
    """
    for name, fn in (
        ("voltage_sag", lambda n: voltage_scale(rng, n, 0.80, 0.90)),
        ("voltage_swell", lambda n: voltage_scale(rng, n, 1.06, 1.11)),
    ):
        where = code == ANOMALY_CODES[name]
        voltage[where] *= fn(int(where.sum()))
    where = code == ANOMALY_CODES["power_factor_collapse"]
    pf[where] = rng.uniform(0.35, 0.65, int(where.sum()))
    where = code == ANOMALY_CODES["consumption_spike"]
    n = int(where.sum())
    energy[where] = np.abs(energy[where]) * rng.uniform(3.0, 8.0, n) + rng.uniform(0.5, 2.0, n)


def voltage_scale(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    return rng.uniform(low, high, n)
