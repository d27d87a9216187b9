"""Planted transformer events: incipient internal faults that end in failure 48-72 h later, and
recoverable stress (heat, customer growth, switching) that looks alarming but recovers.

Planned once for the whole run (a small table), so every day-chunk sees the same events.
`event_effects` maps times to what each event does to its transformer:

- a failure is an incipient internal fault (insulation breakdown, inter-turn winding fault, oil
  degradation). Its intensity steps up at onset (partial discharge / first shorted turns) and keeps
  rising concavely, so it is already measurable 48-72 h ahead; severity varies (lognormal), so a
  few failures stay faint. It adds losses and heat the load does not explain, drops its meters'
  voltage and plants voltage sags on them, each cause with its own mix (see FAULT_SIGNATURES).
- a recovered degradation is recoverable stress: extra load on the transformer from customers it
  does not meter (a subdivision or builders' supply connected, load switched over from a
  neighbouring section) or a local heat pocket raising its site temperature. Heating and losses
  follow that load and ambient through the normal thermal model; it fades over RECOVERY_HOURS.

chunks.py turns these into load, telemetry, voltage and sags (docs/fleet.md, "Transformer events").
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meters.fleet.config import FleetConfig
from meters.fleet.topology import Topology

FAILURE, DEGRADATION_RECOVERED = "failure", "degradation_recovered"
RECOVERY_HOURS = 18.0  # a recovered degradation fades over this long after its worst point
ONSET_HOURS = 2.0  # the onset step of a fault builds up over this long

# Fault cause -> (share, extra loss at intensity 1 as a multiple of no-load loss, load-loss multiplier
# slope, cooling impairment (top-oil rise x (1 + k f)), extra hot-spot K, voltage drop weight, sag weight)
FAULT_SIGNATURES = {
    "insulation_breakdown": (0.40, 0.7, 0.10, 0.03, 3.0, 0.5, 1.6),
    "winding_fault": (0.35, 1.0, 0.35, 0.00, 5.0, 1.0, 1.0),
    "oil_degradation": (0.25, 0.4, 0.05, 0.22, 2.0, 0.3, 0.5),
}
# Stress cause -> (share, extra load range (share of the unit's own load), site ambient excess range K)
STRESS_KINDS = {
    "heat_wave": (0.30, (0.05, 0.20), (3.0, 8.0)),
    "load_growth": (0.40, (0.25, 0.60), (0.0, 0.0)),
    "switching": (0.30, (0.30, 0.75), (0.0, 0.0)),
}


def plan_transformer_events(cfg: FleetConfig, topology: Topology) -> pd.DataFrame:
    """One row per event: transformer_id, event_type, cause, severity, shape, onset_step,
    degradation_start_unix_s, event_unix_s, end_unix_s, lead_hours.

    event_unix_s is the failure time (or a recovered stress's worst point); end_unix_s is supply
    restored (or the stress gone). Older transformers fail more. severity scales the fault's
    intensity (failures, lognormal around 1) or the stress's size (recoveries, 0-1 within its
    range); shape is the exponent of the rise after the onset step (< 1: concave, early).
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
    # Cause, size and shape come from their own stream, so the columns above keep their values.
    prng = np.random.default_rng([cfg.seed, 2, 1])
    m = len(idx)
    fault_names, stress_names = list(FAULT_SIGNATURES), list(STRESS_KINDS)
    fault_cause = prng.choice(len(fault_names), m, p=[s[0] for s in FAULT_SIGNATURES.values()])
    stress_cause = prng.choice(len(stress_names), m, p=[s[0] for s in STRESS_KINDS.values()])
    fault_size = prng.lognormal(0.0, cfg.fault_severity_sigma, m)
    stress_size = prng.random(m)
    shape = prng.uniform(0.35, 0.9, m)
    onset = prng.uniform(0.10, 0.40, m)
    return pd.DataFrame({
        "transformer_id": tx["transformer_id"].to_numpy()[idx],
        "event_type": np.where(failed, FAILURE, DEGRADATION_RECOVERED),
        "cause": np.where(failed, np.array(fault_names)[fault_cause], np.array(stress_names)[stress_cause]),
        "severity": np.round(np.where(failed, fault_size, stress_size), 3),
        "shape": np.round(shape, 3),
        "onset_step": np.round(onset, 3),
        "degradation_start_unix_s": (event_t - lead_h * 3600).astype(np.int64),
        "event_unix_s": event_t,
        "end_unix_s": end_t.astype(np.int64),
        "lead_hours": np.round(lead_h, 2),
    })


@dataclass
class EventEffects:
    """Per (transformer row, time) arrays, shape (len(tx_index), len(times))."""

    fault: np.ndarray  # internal fault intensity (0 healthy, ~severity at failure)
    extra_loss: np.ndarray  # fault loss as a multiple of the unit's no-load loss
    load_loss_factor: np.ndarray  # multiplier on load (copper) loss
    cooling: np.ndarray  # multiplier on the top-oil rise (impaired cooling)
    hotspot_k: np.ndarray  # extra hot-spot rise, K
    voltage_drop: np.ndarray  # share of DEGRADATION_DROP_V lost at its meters
    sag: np.ndarray  # weight of extra sag starts
    extra_load: np.ndarray  # recoverable stress: extra load as a share of the unit's own load
    ambient_excess: np.ndarray  # recoverable stress: site temperature above the region's, K
    outage: np.ndarray  # bool: failed, out of service

    @property
    def any(self) -> bool:
        return bool(self.fault.any() or self.extra_load.any() or self.ambient_excess.any())


def fault_intensity(t: np.ndarray, start: float, at: float, severity: float, shape: float, onset: float) -> np.ndarray:
    """Step-then-ramp: onset share `onset` within ONSET_HOURS of start, then a concave rise to 1 at `at`."""
    live = (t >= start) & (t < at)
    x = np.clip((t - start) / (at - start), 0.0, 1.0)
    step = np.clip((t - start) / (ONSET_HOURS * 3600), 0.0, 1.0)
    return severity * (onset * step + (1.0 - onset) * x**shape) * live


def event_effects(events: pd.DataFrame, tx_index: np.ndarray, times: np.ndarray) -> EventEffects:
    """What the planted events do to the transformers at rows tx_index (0-based) at these times."""
    shape = (len(tx_index), len(times))
    z = {k: np.zeros(shape) for k in ("fault", "extra_loss", "hotspot_k", "voltage_drop", "sag",
                                      "extra_load", "ambient_excess")}
    fx = EventEffects(load_loss_factor=np.ones(shape), cooling=np.ones(shape),
                      outage=np.zeros(shape, dtype=bool), **z)
    if events.empty:
        return fx
    rows = events["transformer_id"].to_numpy() - 1
    pos = np.searchsorted(tx_index, rows)
    pos_ok = (pos < len(tx_index)) & (tx_index[np.minimum(pos, len(tx_index) - 1)] == rows)
    t = times.astype(np.float64)
    for col, ev in zip(pos[pos_ok], events[pos_ok].itertuples(index=False)):  # loop over events, not readings
        start, at, end = ev.degradation_start_unix_s, ev.event_unix_s, ev.end_unix_s
        if ev.event_type == FAILURE:
            f = fault_intensity(t, start, at, ev.severity, ev.shape, ev.onset_step)
            _, loss, ll, cool, hot, vdrop, sag = FAULT_SIGNATURES[ev.cause]
            fx.fault[col] = np.maximum(fx.fault[col], f)
            fx.extra_loss[col] += loss * f
            fx.load_loss_factor[col] *= 1.0 + ll * f
            fx.cooling[col] *= 1.0 + cool * f
            fx.hotspot_k[col] += hot * f
            fx.voltage_drop[col] += vdrop * f
            fx.sag[col] += sag * f
            fx.outage[col] |= (t >= at) & (t < end)
        else:
            x = np.clip((t - start) / (at - start), 0.0, 1.0) * (t >= start) * (t < at)
            if ev.cause == "switching":  # a feeder reconfiguration: load arrives in a block, early
                level = np.where(t >= start + 0.25 * (at - start), 0.6 + 0.4 * x, 0.0) * (t < at)
            else:
                level = x**ev.shape  # growth and heat build up
            fading = np.clip(1.0 - (t - at) / (end - at), 0.0, 1.0) * (t >= at)
            level = np.maximum(level, fading)
            _, (lo, hi), (a_lo, a_hi) = STRESS_KINDS[ev.cause]
            fx.extra_load[col] += (lo + (hi - lo) * ev.severity) * level
            fx.ambient_excess[col] += (a_lo + (a_hi - a_lo) * ev.severity) * level
    return fx
