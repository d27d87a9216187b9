"""Planted supply interruptions: the ground truth outage detection and reliability indices are scored on.

One row per outage at the highest level that explains it: 'feeder' (11 kV feeder tripped or
switched out), 'transformer' (distribution transformer, its HV fuse or LV board: includes every
transformer failure of events.py, same times), 'meter' (single premise: service fuse, neutral).
Kinds (docs/fleet.md "Outages" has the rates and their sources): unplanned sustained outages,
planned work (weekdays, daytime, 2-6 h, registered 1-7 days ahead), momentary interruptions
(feeder auto-reclose, 1-180 s: STPIS counts <= 3 minutes as momentary) and storm days (many
outages in one region at once, so IEEE 1366 major event days exist).

Outages never overlap on a meter (with 10 minutes to spare): a later, lower-priority one that
would is dropped, so every meter's supply is either on or in exactly one outage. Each outage
covers a contiguous meter-row range (meters are contiguous per transformer, transformers per
feeder), which is how chunks find who is off supply (`SupplyPlan`).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meters.fleet.config import NEM_TZ, FleetConfig
from meters.fleet.events import FAILURE, plan_transformer_events
from meters.fleet.feeders import CATEGORIES
from meters.fleet.topology import Topology

OUTAGE_COLUMNS = ("outage_id", "level", "asset_id", "region", "substation_id", "feeder_id", "transformer_id",
                  "started_unix_s", "restored_unix_s", "customers_affected", "planned", "announced_unix_s",
                  "momentary", "cause")
CAUSES = ("equipment", "weather", "vegetation", "animal", "third_party", "planned", "unknown")
MOMENTARY_MAX_S = 180  # AER STPIS: an interruption of 3 minutes or less is momentary
GUARD_S = 600  # outages on the same meters keep at least this far apart
_YEAR_S = 365.25 * 86_400
# Kind -> (cause shares over CAUSES, median minutes per category (urban, short, long rural), lognormal sigma)
KINDS = {
    "feeder": ((0.30, 0.15, 0.20, 0.12, 0.13, 0.0, 0.10), (60.0, 90.0, 130.0), 0.9),
    "transformer": ((0.50, 0.10, 0.05, 0.15, 0.10, 0.0, 0.10), (150.0, 180.0, 220.0), 0.8),
    "meter": ((0.55, 0.05, 0.05, 0.05, 0.10, 0.0, 0.20), (180.0, 200.0, 240.0), 0.8),
    "storm": ((0.0, 0.65, 0.35, 0.0, 0.0, 0.0, 0.0), (300.0, 420.0, 600.0), 0.8),
    "momentary": ((0.10, 0.35, 0.25, 0.15, 0.05, 0.0, 0.10), (0.0, 0.0, 0.0), 0.0),
}
# Priority when two outages would overlap on a meter: lower wins.
_PRIORITY = {"failure": 0, "storm": 1, "feeder": 2, "transformer": 3, "planned": 4, "meter": 5, "momentary": 6}


@dataclass
class _Draft:
    kind: list
    level: list
    asset_row: list  # 0-based row in the level's table
    start: list
    end: list
    planned: list
    announced: list
    cause: list

    def add(self, kind, level, rows, start, end, cause, planned=None, announced=None):
        n = len(rows)
        self.kind += [kind] * n
        self.level += [level] * n
        self.asset_row.append(np.asarray(rows, dtype=np.int64))
        self.start.append(np.asarray(start, dtype=np.int64))
        self.end.append(np.asarray(end, dtype=np.int64))
        self.cause.append(np.asarray(cause, dtype=object))
        self.planned.append(np.zeros(n, bool) if planned is None else planned)
        self.announced.append(np.zeros(n, np.int64) if announced is None else announced)


def _poisson_times(rng, cfg, rates_per_year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(asset rows, start times) of a Poisson process per asset over the run."""
    counts = rng.poisson(rates_per_year * cfg.days * 86_400 / _YEAR_S)
    rows = np.repeat(np.arange(len(counts)), counts)
    return rows, cfg.start_unix_s + (rng.random(len(rows)) * cfg.days * 86_400).astype(np.int64)


def _durations_s(rng, kind: str, category: np.ndarray) -> np.ndarray:
    _, medians, sigma = KINDS[kind]
    med = np.array(medians)[category] * 60.0
    return np.maximum(med * rng.lognormal(0.0, sigma, len(category)), MOMENTARY_MAX_S + 1).astype(np.int64)


def _causes(rng, kind: str, n: int) -> np.ndarray:
    return np.array(CAUSES, dtype=object)[rng.choice(len(CAUSES), n, p=KINDS[kind][0])]


def _momentary_s(rng, n: int) -> np.ndarray:
    """Auto-reclose dead times: most recloses succeed on the first shot (1-15 s), some later (15-180 s)."""
    first = rng.random(n) < 0.7
    return np.where(first, rng.integers(1, 16, n), rng.integers(15, MOMENTARY_MAX_S + 1, n)).astype(np.int64)


def _planned(rng, cfg, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, end and announcement of planned work: a weekday, starting 07:30-10:30 NEM time, 2-6 h."""
    n = len(rows)
    day = rng.integers(0, cfg.days, n)
    weekday = (cfg.start.weekday() + day) % 7
    day = np.where(weekday >= 5, np.maximum(day - (weekday - 4), 0), day)  # weekend -> the Friday before
    start = cfg.start_unix_s + day * 86_400 + (rng.uniform(7.5, 10.5, n) * 3600).astype(np.int64) // 300 * 300
    end = start + (rng.uniform(2.0, 6.0, n) * 3600).astype(np.int64) // 300 * 300
    announced = start - (rng.uniform(1.0, 7.0, n) * 86_400).astype(np.int64)
    return start, end, announced


def plan_outages(cfg: FleetConfig, topology: Topology, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per planted outage (columns OUTAGE_COLUMNS), ordered by start; see the module doc."""
    events = events if events is not None else plan_transformer_events(cfg, topology)
    rates = cfg.outage_rates
    k = rates.scale
    rng = np.random.default_rng([cfg.seed, 12])
    fd, tx, mt = topology.feeders, topology.transformers, topology.meters
    fcat = pd.Categorical(fd["category"], categories=CATEGORIES).codes.astype(np.int64)
    tx_feeder_row = tx["feeder_id"].to_numpy() - 1
    tx_cat = fcat[tx_feeder_row]
    m_cat = tx_cat[mt["transformer_id"].to_numpy() - 1]
    d = _Draft([], [], [], [], [], [], [], [])

    # Transformer failures (events.py): the same outage, top priority.
    fails = events[events["event_type"] == FAILURE]
    d.add("failure", "transformer", fails["transformer_id"].to_numpy() - 1, fails["event_unix_s"], fails["end_unix_s"],
          ["equipment"] * len(fails))
    # Unplanned sustained: feeders, transformers, single premises.
    for kind, level, rate, cat in (
        ("feeder", "feeder", np.array(rates.feeder_sustained_per_year)[fcat], fcat),
        ("transformer", "transformer", np.full(len(tx), rates.transformer_unplanned_per_year), tx_cat),
        ("meter", "meter", np.full(len(mt), rates.premise_per_year), m_cat),
    ):
        rows, start = _poisson_times(rng, cfg, rate * k)
        d.add(kind, level, rows, start, start + _durations_s(rng, kind, cat[rows]), _causes(rng, kind, len(rows)))
    # Momentary: feeder auto-reclose.
    rows, start = _poisson_times(rng, cfg, np.array(rates.feeder_momentary_per_year)[fcat] * k)
    d.add("momentary", "feeder", rows, start, start + _momentary_s(rng, len(rows)), _causes(rng, "momentary", len(rows)))
    # Planned work on feeders and transformers.
    for level, rate, n in (("feeder", rates.feeder_planned_per_year, len(fd)),
                           ("transformer", rates.transformer_planned_per_year, len(tx))):
        rows, _ = _poisson_times(rng, cfg, np.full(n, rate * k))
        start, end, announced = _planned(rng, cfg, rows)
        d.add("planned", level, rows, start, end, ["planned"] * len(rows), np.ones(len(rows), bool), announced)
    _plan_storms(cfg, rng, topology, fcat, tx_cat, d)
    return _resolve(cfg, topology, d)


def _plan_storms(cfg, rng, topology, fcat, tx_cat, d: _Draft) -> None:
    """Storm days: a region's feeders and transformers go out together over a few afternoon hours."""
    rates = cfg.outage_rates
    per_year = rng.integers(rates.storm_days_per_year[0], rates.storm_days_per_year[1] + 1)
    expected = per_year * cfg.days / 365.25 * rates.scale
    n_storms = int(expected) + int(rng.random() < expected - int(expected))
    fd = topology.feeders
    regions, weights = np.unique(fd["region"].to_numpy(), return_counts=True)
    tx_region = fd["region"].to_numpy()[topology.transformers["feeder_id"].to_numpy() - 1]
    days = rng.choice(cfg.days, size=min(n_storms, cfg.days), replace=False)
    for day in np.sort(days):
        region = regions[rng.choice(len(regions), p=weights / weights.sum())]
        onset = cfg.start_unix_s + int(day) * 86_400 + int(rng.uniform(13.0, 18.0) * 3600)
        width = rng.uniform(2.0, 6.0) * 3600
        in_region = np.flatnonzero(fd["region"].to_numpy() == region)
        p = np.minimum(np.array(rates.storm_feeder_p)[fcat[in_region]] * rates.scale, 1.0)
        hit = in_region[rng.random(len(in_region)) < p]
        start = onset + (rng.random(len(hit)) * width).astype(np.int64)
        d.add("storm", "feeder", hit, start, start + _durations_s(rng, "storm", fcat[hit]), _causes(rng, "storm", len(hit)))
        flick = in_region[rng.random(len(in_region)) < min(rates.storm_momentary_p * rates.scale, 1.0)]
        start = onset + (rng.random(len(flick)) * width).astype(np.int64)
        d.add("momentary", "feeder", flick, start, start + _momentary_s(rng, len(flick)), _causes(rng, "storm", len(flick)))
        txs = np.flatnonzero(tx_region == region)
        txs = txs[rng.random(len(txs)) < min(rates.storm_transformer_p * rates.scale, 1.0)]
        start = onset + (rng.random(len(txs)) * width).astype(np.int64)
        d.add("storm", "transformer", txs, start, start + _durations_s(rng, "storm", tx_cat[txs]), _causes(rng, "storm", len(txs)))


def meter_ranges(topology: Topology, level: np.ndarray, asset_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based [lo, hi) meter rows off supply in each outage."""
    tx_lo = np.r_[0, np.cumsum(np.bincount(topology.meters["transformer_id"].to_numpy() - 1,
                                          minlength=len(topology.transformers)))]
    fd = topology.feeders
    f_lo = fd["first_transformer_id"].to_numpy() - 1
    f_hi = f_lo + fd["transformers"].to_numpy()
    level = np.asarray(level)
    asset = np.asarray(asset_id, dtype=np.int64) - 1
    lo = np.where(level == "meter", asset, 0)
    hi = np.where(level == "meter", asset + 1, 0)
    is_tx, is_f = level == "transformer", level == "feeder"
    lo[is_tx], hi[is_tx] = tx_lo[asset[is_tx]], tx_lo[asset[is_tx] + 1]
    lo[is_f], hi[is_f] = tx_lo[f_lo[asset[is_f]]], tx_lo[f_hi[asset[is_f]]]
    return lo, hi


def _resolve(cfg, topology: Topology, d: _Draft) -> pd.DataFrame:
    df = pd.DataFrame({
        "kind": d.kind, "level": d.level, "asset_id": np.concatenate(d.asset_row) + 1,
        "started_unix_s": np.concatenate(d.start), "restored_unix_s": np.concatenate(d.end),
        "planned": np.concatenate(d.planned), "announced_unix_s": np.concatenate(d.announced),
        "cause": np.concatenate(d.cause),
    })
    df = df[(df["started_unix_s"] >= cfg.start_unix_s) & (df["started_unix_s"] < cfg.end_unix_s)]
    lo, hi = meter_ranges(topology, df["level"].to_numpy(), df["asset_id"].to_numpy())
    tx, fd = topology.transformers, topology.feeders
    meter_tx = topology.meters["transformer_id"].to_numpy()
    df = df.assign(transformer_id=np.where(df["level"] == "feeder", 0, meter_tx[lo]),
                   feeder_id=tx["feeder_id"].to_numpy()[meter_tx[lo] - 1], lo=lo, hi=hi,
                   priority=df["kind"].map(_PRIORITY).to_numpy())
    df = df.sort_values(["priority", "started_unix_s", "asset_id"], kind="stable")
    keep = np.zeros(len(df), bool)
    s = df["started_unix_s"].to_numpy() - GUARD_S
    e = df["restored_unix_s"].to_numpy() + GUARD_S
    lo, hi = df["lo"].to_numpy(), df["hi"].to_numpy()
    order = np.argsort(df["feeder_id"].to_numpy(), kind="stable")  # conflicts only within a feeder
    bounds = np.flatnonzero(np.diff(df["feeder_id"].to_numpy()[order])) + 1
    for group in np.split(order, bounds):  # a loop over feeders, and over a feeder's outages
        kept: list[int] = []
        for i in group:
            if kept:
                j = np.array(kept)
                if ((lo[j] < hi[i]) & (lo[i] < hi[j]) & (s[j] < e[i]) & (s[i] < e[j])).any():
                    continue
            kept.append(i)
            keep[i] = True
    df = df[keep]
    df = df.sort_values(["started_unix_s", "level", "asset_id"], kind="stable", ignore_index=True)
    duration = df["restored_unix_s"] - df["started_unix_s"]
    sub = fd["substation_id"].to_numpy()[df["feeder_id"].to_numpy() - 1]
    out = pd.DataFrame({
        "outage_id": np.arange(1, len(df) + 1, dtype=np.int64),
        "level": df["level"].to_numpy(),
        "asset_id": df["asset_id"].to_numpy().astype(np.int64),
        "region": fd["region"].to_numpy()[df["feeder_id"].to_numpy() - 1],
        "substation_id": sub.astype(np.int64),
        "feeder_id": df["feeder_id"].to_numpy().astype(np.int64),
        "transformer_id": np.where(df["level"] == "meter", df["transformer_id"],
                                   np.where(df["level"] == "transformer", df["asset_id"], 0)).astype(np.int64),
        "started_unix_s": df["started_unix_s"].to_numpy().astype(np.int64),
        "restored_unix_s": df["restored_unix_s"].to_numpy().astype(np.int64),
        "customers_affected": (df["hi"] - df["lo"]).to_numpy().astype(np.int64),
        "planned": df["planned"].to_numpy().astype(bool),
        "announced_unix_s": df["announced_unix_s"].to_numpy().astype(np.int64),
        "momentary": (duration <= MOMENTARY_MAX_S).to_numpy(),
        "cause": df["cause"].to_numpy().astype(str),
    })
    return out


class SupplyPlan:
    """Who is off supply when, for the chunks: sustained outages as meter-row ranges and times."""

    def __init__(self, topology: Topology, outages: pd.DataFrame, events: pd.DataFrame):
        lo, hi = meter_ranges(topology, outages["level"].to_numpy(), outages["asset_id"].to_numpy())
        fails = events[events["event_type"] == FAILURE]
        key = set(zip(fails["transformer_id"].tolist(), fails["event_unix_s"].tolist()))
        self.failure = np.array([lvl == "transformer" and (a, s) in key for lvl, a, s in zip(
            outages["level"], outages["asset_id"].tolist(), outages["started_unix_s"].tolist())], dtype=bool)
        self.lo, self.hi = lo, hi
        self.start = outages["started_unix_s"].to_numpy().astype(np.float64)
        self.end = outages["restored_unix_s"].to_numpy().astype(np.float64)

    def off_seconds(self, a: int, b: int, times: np.ndarray, interval_s: int) -> tuple[np.ndarray, np.ndarray]:
        """Seconds off supply per (meter row a..b, interval ending at times): all outages, failures alone."""
        t0, t1 = times[0] - interval_s, times[-1]
        sel = np.flatnonzero((self.lo < b) & (self.hi > a) & (self.start < t1) & (self.end > t0))
        off = np.zeros((b - a, len(times)))
        failed = np.zeros((b - a, len(times)))
        ends = times.astype(np.float64)
        for i in sel:  # outages touching this chunk and day: a handful
            sec = np.clip(np.minimum(ends, self.end[i]) - np.maximum(ends - interval_s, self.start[i]), 0.0, None)
            rows = slice(max(self.lo[i], a) - a, min(self.hi[i], b) - a)
            off[rows] += sec
            if self.failure[i]:
                failed[rows] += sec
        return off, failed
