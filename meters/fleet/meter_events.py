"""Meter events as an AMI head-end reports them, consistent with the planted outages and thefts.

Types are proto/meters/ingest/v1/meter_event.proto's MeterEventType values. For every meter off
supply in an outage (momentary ones too): a POWER_OFF (last gasp) 0-20 s after the start and a
POWER_ON 0-60 s after restoration. Some never arrive (delivered False): a last gasp is lost for
LAST_GASP_LOST[level] of the meters (in a transformer or feeder outage the mesh radios and
backhaul around the meter died too), a restore for RESTORE_LOST. Thefts with tamper_event leave a
COVER_OPEN or TAMPER near their start. Noise a detector must survive: spurious last gasps from
comms glitches (mostly followed by a POWER_ON within two minutes), clock errors, and cover-open
events of ordinary field work. Randomness is keyed by (seed, day), so days stream on their own.
"""

from collections.abc import Iterator

import numpy as np
import pandas as pd

from meters.fleet.config import FleetConfig
from meters.fleet.events import plan_transformer_events
from meters.fleet.outages import meter_ranges, plan_outages
from meters.fleet.theft import plan_thefts
from meters.fleet.topology import Topology, generate_topology

POWER_OFF, POWER_ON, COVER_OPEN, TAMPER, REVERSE_ROTATION, CLOCK_ERROR = 1, 2, 3, 4, 5, 6
EVENT_COLUMNS = ("event_id", "meter_id", "type", "event_time_unix_ms", "detail")
TRUTH_COLUMNS = EVENT_COLUMNS + ("delivered", "outage_id")
LAST_GASP_JITTER_MS, RESTORE_JITTER_MS = 20_000, 60_000
LAST_GASP_LOST = {"meter": 0.05, "transformer": 0.20, "feeder": 0.20}
RESTORE_LOST = 0.05
NOISE_LOST = 0.05
# Per meter per year.
SPURIOUS_LAST_GASP_PER_YEAR = 0.2
CLOCK_ERROR_PER_YEAR = 0.05
FIELD_WORK_COVER_OPEN_PER_YEAR = 0.01
_YEAR_DAYS = 365.25


def _frame(cfg, ids, meter_id, typ, t_ms, detail, delivered, outage_id) -> pd.DataFrame:
    n = len(meter_id)
    return pd.DataFrame({
        "event_id": ids, "meter_id": np.asarray(meter_id, np.int64), "type": np.full(n, typ, np.int64)
        if np.isscalar(typ) else np.asarray(typ, np.int64), "event_time_unix_ms": np.asarray(t_ms, np.int64),
        "detail": detail if not isinstance(detail, str) else np.full(n, detail, dtype=object),
        "delivered": np.asarray(delivered, bool), "outage_id": np.asarray(outage_id, np.int64),
    })


def _ids(prefix: str, *parts) -> np.ndarray:
    out = pd.Series(np.full(len(parts[0]), prefix, dtype=object))
    for i, p in enumerate(parts):
        out = out + ("" if i == 0 else "-") + pd.Series(np.asarray(p)).astype(str)
    return out.to_numpy(dtype=object)


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(outage index, meter row) for every meter of every [lo, hi) range."""
    n = hi - lo
    which = np.repeat(np.arange(len(lo)), n)
    rows = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + lo[which]
    return which, rows


def _outage_events(cfg, day: int, outages: pd.DataFrame, lo, hi) -> list[pd.DataFrame]:
    day0 = cfg.start_unix_s + day * 86_400
    out = []
    start, end = outages["started_unix_s"].to_numpy(), outages["restored_unix_s"].to_numpy()
    # Last gasps of outages starting today.
    sel = np.flatnonzero((start >= day0) & (start < day0 + 86_400))
    which, rows = _expand(lo[sel], hi[sel])
    rng = np.random.default_rng([cfg.seed, 15, day, 0])
    o = sel[which]
    t_off = start[o] * 1000 + rng.integers(0, LAST_GASP_JITTER_MS + 1, len(o))
    lost_p = outages["level"].map(LAST_GASP_LOST).to_numpy()[o]
    oid = outages["outage_id"].to_numpy()[o]
    out.append(_frame(cfg, _ids(f"s{cfg.seed}-o", oid, rows + 1, np.full(len(o), "off")), rows + 1, POWER_OFF, t_off,
                      "last gasp", rng.random(len(o)) >= lost_p, oid))
    # Restores of outages restored today (inside the run).
    sel = np.flatnonzero((end >= day0) & (end < day0 + 86_400) & (end < cfg.end_unix_s))
    which, rows = _expand(lo[sel], hi[sel])
    rng = np.random.default_rng([cfg.seed, 15, day, 1])
    o = sel[which]
    t_on = end[o] * 1000 + rng.integers(0, RESTORE_JITTER_MS + 1, len(o))
    t_on = np.maximum(t_on, start[o] * 1000 + LAST_GASP_JITTER_MS + 1000)  # after any last gasp
    oid = outages["outage_id"].to_numpy()[o]
    out.append(_frame(cfg, _ids(f"s{cfg.seed}-o", oid, rows + 1, np.full(len(o), "on")), rows + 1, POWER_ON, t_on,
                      "power restored", rng.random(len(o)) >= RESTORE_LOST, oid))
    return out


def _noise_events(cfg, day: int, n_meters: int) -> pd.DataFrame:
    rng = np.random.default_rng([cfg.seed, 16, day])
    day0_ms = (cfg.start_unix_s + day * 86_400) * 1000
    parts = []
    for kind, typ, rate, detail in (("g", POWER_OFF, SPURIOUS_LAST_GASP_PER_YEAR, "last gasp"),
                                    ("c", CLOCK_ERROR, CLOCK_ERROR_PER_YEAR, "clock error: drift beyond 20 s, resynchronised"),
                                    ("f", COVER_OPEN, FIELD_WORK_COVER_OPEN_PER_YEAR, "terminal cover opened")):
        n = rng.poisson(n_meters * rate / _YEAR_DAYS)
        meters = rng.integers(1, n_meters + 1, n)
        t = day0_ms + rng.integers(0, 86_400_000, n)
        k = np.arange(n)
        parts.append(_frame(cfg, _ids(f"s{cfg.seed}-n{day}{kind}", k), meters, typ, t, detail,
                            rng.random(n) >= NOISE_LOST, np.zeros(n)))
        if typ == POWER_OFF:  # a glitch: the meter reports power back soon after, most of the time
            back = rng.random(n) < 0.7
            parts.append(_frame(cfg, _ids(f"s{cfg.seed}-n{day}{kind}", k[back], np.full(back.sum(), "on")), meters[back],
                                POWER_ON, t[back] + rng.integers(5_000, 120_000, back.sum()), "power restored",
                                rng.random(back.sum()) >= NOISE_LOST, np.zeros(back.sum())))
    return pd.concat(parts, ignore_index=True)


def theft_events(cfg: FleetConfig, thefts: pd.DataFrame) -> pd.DataFrame:
    """COVER_OPEN or TAMPER near the start of each theft with tamper_event (all delivered)."""
    rng = np.random.default_rng([cfg.seed, 17])
    t = thefts[thefts["tamper_event"]]
    flat = t["kind"].to_numpy() == "flatline"
    lead_s = np.where(flat, rng.uniform(0, 1800, len(t)), rng.uniform(0, 3 * 3600, len(t)))
    typ = np.where(flat | (rng.random(len(t)) < 0.4), TAMPER, COVER_OPEN)
    when = np.maximum((t["started_unix_s"].to_numpy() - lead_s) * 1000, cfg.start_unix_s * 1000).astype(np.int64)
    detail = np.where(typ == TAMPER, "tamper detected", "terminal cover opened").astype(object)
    return _frame(cfg, _ids(f"s{cfg.seed}-t", t["meter_id"].to_numpy()), t["meter_id"], typ, when, detail,
                  np.ones(len(t), bool), np.zeros(len(t)))


def iter_meter_events(cfg: FleetConfig, topology: Topology | None = None, *, outages: pd.DataFrame | None = None,
                      thefts: pd.DataFrame | None = None, delivered_only: bool = True) -> Iterator[pd.DataFrame]:
    """One DataFrame per NEM day of the run, sorted by event time (then event_id).

    delivered_only: the head-end's view (EVENT_COLUMNS); False: the truth (TRUTH_COLUMNS, lost
    events too). Outages and thefts default to the planted ones.
    """
    topo = topology if topology is not None else generate_topology(cfg)
    if outages is None:
        outages = plan_outages(cfg, topo, plan_transformer_events(cfg, topo))
    thefts = thefts if thefts is not None else plan_thefts(cfg, topo)
    lo, hi = meter_ranges(topo, outages["level"].to_numpy(), outages["asset_id"].to_numpy())
    tamper = theft_events(cfg, thefts)
    tamper_day = (tamper["event_time_unix_ms"].to_numpy() // 1000 - cfg.start_unix_s) // 86_400
    carry = pd.DataFrame(columns=list(TRUTH_COLUMNS))
    for day in range(cfg.days):
        end_ms = (cfg.start_unix_s + (day + 1) * 86_400) * 1000
        parts = [carry, *_outage_events(cfg, day, outages, lo, hi), _noise_events(cfg, day, len(topo.meters)),
                 tamper[tamper_day == day]]
        df = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else carry
        df = df.astype({"meter_id": np.int64, "type": np.int64, "event_time_unix_ms": np.int64,
                        "delivered": bool, "outage_id": np.int64})
        late = df["event_time_unix_ms"].to_numpy() >= end_ms
        carry, df = df[late], df[~late]
        if day == cfg.days - 1:
            df = pd.concat([df, carry], ignore_index=True) if len(carry) else df
        df = df.sort_values(["event_time_unix_ms", "event_id"], kind="stable", ignore_index=True)
        yield df[df["delivered"]][list(EVENT_COLUMNS)].reset_index(drop=True) if delivered_only else df


def meter_events(cfg: FleetConfig, topology: Topology | None = None, **kw) -> pd.DataFrame:
    """All events of the run, lost ones too (truth). Whole run in memory: for small fleets or tests."""
    return pd.concat(list(iter_meter_events(cfg, topology, delivered_only=False, **kw)), ignore_index=True)
