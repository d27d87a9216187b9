"""Streaming outage detector: last gasps, power-on events and readings in; outages opened and closed out.

Pure (no I/O): feed meter events in time order (`feed_events`), readings as they arrive
(`feed_readings_seen`, optional) and the clock (`advance`). Each call returns the records
(OutageOpened / OutageClosed) decided up to that time; `outages()` is the table so far, with
truth/outages.parquet's columns plus detected_from, opened/closed times and the last gasp time.

- Last gasps are collected per feeder for `window_s` after the feeder's first one. Then each
  transformer where at least `transformer_share` of the meters gasped is out (customers: all its
  meters, since a fifth of gasps are lost when the radios die too); when at least `feeder_share`
  of the feeder's transformers are out, the feeder is. The outage starts at the earliest gasp.
- A lone gasp is a premise outage only when confirmed: no POWER_ON within `confirm_s`, and, when
  readings are fed, no reading for the first whole interval after the gasp. Otherwise it was a
  comms glitch and counts for nothing.
- A meter silent for `silent_intervals` whole intervals without a gasp (its gasp lost) opens
  outages the same way, from readings alone; its start is its last reading's end.
- Restore: each meter's POWER_ON (minus `power_on_delay_s`, the head-end's mean lag) or its first
  reading of a whole interval after the start (restore taken as that interval's start); the
  outage closes `settle_s` after `close_share` of its meters showed one, at their median, so lost
  power-on events and stragglers do not move it. Momentary: restored within 180 s (STPIS).
- Planned: registered work (planned.PlannedWork columns) on the asset or one above it, announced
  by the time of opening, whose window holds the start.
"""

import heapq
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from scoring_svc.outages.network import Network
from scoring_svc.outages.planned import PlannedWork
from scoring_svc.outages.records import (DETECTOR_COLUMNS, OUTAGE_COLUMNS, ActiveOutage, OutageClosed,
                                         OutageOpened)

POWER_OFF, POWER_ON = 1, 2
MOMENTARY_MAX_S = 180


@dataclass(frozen=True)
class DetectorConfig:
    window_s: float = 30.0  # gasps of one event arrive within 20 s of the start
    transformer_share: float = 0.5
    feeder_share: float = 0.5
    confirm_s: float = 300.0
    interval_s: int = 900
    readings_lag_s: float = 300.0  # a reading arrives this long after its interval ends
    silent_intervals: int = 3
    close_share: float = 0.5
    settle_s: float = 60.0
    power_on_delay_s: float = 30.0  # POWER_ON is sent 0-60 s after supply returns


class OutageDetector:
    def __init__(self, topology_tables, planned_work: pd.DataFrame | None = None,
                 config: DetectorConfig | None = None, start_unix_s: float = 0.0):
        self.cfg = config or DetectorConfig()
        self.net = Network(topology_tables)
        self.planned = PlannedWork(planned_work)
        n = self.net.n_meter_ids
        self.meter_outage = np.zeros(n, np.int64)  # open outage of each meter (0: none)
        self.last_on = np.full(n, -np.inf)
        self.last_read = np.full(n, float(start_unix_s))  # end of the latest interval with a reading
        self.readings_fed = False
        self.now = float(start_unix_s)
        self._clusters: dict[int, dict[int, float]] = {}  # feeder -> meter -> gasp time (s)
        self._candidates: dict[int, float] = {}  # lone gasps awaiting confirmation
        self._active: dict[int, ActiveOutage] = {}
        self._rows: dict[int, dict] = {}
        self._meters: dict[int, np.ndarray] = {}  # meters each outage took off supply
        self._due: list[tuple[float, int, str, int]] = []
        self._seq = 0
        self._next_id = 1

    # -- inputs ---------------------------------------------------------------------------
    def feed_events(self, events: pd.DataFrame) -> list:
        """Meter events (meter_id, type, event_time_unix_ms), in time order."""
        out: list = []
        t_s = events["event_time_unix_ms"].to_numpy(np.int64) / 1000.0
        for m, typ, t in zip(events["meter_id"].to_numpy(np.int64), events["type"].to_numpy(np.int64), t_s):
            out += self.advance(t)
            if typ == POWER_OFF:
                self._gasp(int(m), float(t))
            elif typ == POWER_ON:
                out += self._power_on(int(m), float(t))
        return out

    def feed_readings_seen(self, meter_ids, times) -> list:
        """Readings that arrived: meter ids and their interval END times (unix s)."""
        ids = np.asarray(meter_ids, np.int64)
        times = np.broadcast_to(np.asarray(times, float), ids.shape)
        self.readings_fed = True
        np.maximum.at(self.last_read, ids, times)
        return self.readings_resumed(ids, times) + self._silent(float(times.max()) if len(times) else self.now)

    def readings_resumed(self, meter_ids, times) -> list:
        """Restore evidence only: meters of open outages with a reading of a whole interval after its start
        (interval END times, unix s)."""
        ids = np.asarray(meter_ids, np.int64)
        times = np.broadcast_to(np.asarray(times, float), ids.shape)
        out: list = []
        hit = np.flatnonzero(self.meter_outage[ids] != 0)
        for m, t in zip(ids[hit], times[hit]):
            o = self._active.get(int(self.meter_outage[m]))
            begun = t - self.cfg.interval_s
            if o is not None and begun >= o.opened.started_unix_s and int(m) not in o.restore_s:
                o.restore_s[int(m)] = begun
                o.restored_from.add("readings")
                out += self._check_restore(o)
        return out

    def awaiting_restore(self) -> list[tuple[int, float, np.ndarray]]:
        """(outage id, first whole interval's END after its start, meters without restore evidence) of the
        open outages not yet closing."""
        iv = self.cfg.interval_s
        return [(oid, (math.floor(o.opened.started_unix_s / iv) + 2) * iv,
                 np.array([m for m in o.meters.tolist() if m not in o.restore_s], np.int64))
                for oid, o in self._active.items() if o.close_due is None]

    def advance(self, now_unix_s: float) -> list:
        """Move the clock; returns the decisions due by then."""
        out: list = []
        while self._due and self._due[0][0] <= now_unix_s:
            due, _, kind, key = heapq.heappop(self._due)
            self.now = max(self.now, due)
            out += getattr(self, f"_on_{kind}")(key)
        self.now = max(self.now, now_unix_s)
        return out

    # -- events ---------------------------------------------------------------------------
    def _schedule(self, at: float, kind: str, key: int) -> None:
        self._seq += 1
        heapq.heappush(self._due, (at, self._seq, kind, key))

    def _gasp(self, m: int, t: float) -> None:
        if self.meter_outage[m] or m in self._candidates:
            return
        feeder = int(self.net.tx_feeder[self.net.meter_tx[m]])
        cluster = self._clusters.get(feeder)
        if cluster is None:
            cluster = self._clusters[feeder] = {}
            self._schedule(t + self.cfg.window_s, "cluster", feeder)
        cluster.setdefault(m, t)

    def _power_on(self, m: int, t: float) -> list:
        self.last_on[m] = t
        oid = int(self.meter_outage[m])
        if oid:
            o = self._active[oid]
            if m not in o.restore_s:
                o.restore_s[m] = t - self.cfg.power_on_delay_s
                o.restored_from.add("power_on")
                return self._check_restore(o)
            return []
        gasp = self._candidates.get(m)
        if gasp is not None and t - gasp <= self.cfg.confirm_s:
            del self._candidates[m]  # a comms glitch: power reported back at once
        elif gasp is not None:  # no restore for confirm_s, then one: a short premise outage
            del self._candidates[m]
            return self._open_and_note("meter", m, gasp, [m], {m: gasp}, "last_gasp+no_restore")
        return []

    # -- decisions ------------------------------------------------------------------------
    def _on_cluster(self, feeder: int) -> list:
        gasps = self._clusters.pop(feeder, {})
        if not gasps:
            return []
        return self._correlate(feeder, gasps, "last_gasp")

    def _correlate(self, feeder: int, when: dict[int, float], source: str) -> list:
        """Open the highest-level outages that explain these meters going off; the rest stay lone meters."""
        meters = np.fromiter(when, np.int64, len(when))
        tx_of = self.net.meter_tx[meters]
        txs, counts = np.unique(tx_of, return_counts=True)
        out_tx = txs[counts >= self.cfg.transformer_share * self.net.tx_size[txs]]
        feeder_txs = self.net.feeder_txs[feeder]
        out: list = []
        # A one-transformer feeder: feeder. A pseudo feeder (< 0: transformers of no known feeder) never is.
        if feeder > 0 and len(out_tx) >= self.cfg.feeder_share * len(feeder_txs):
            out += self._open_and_note("feeder", feeder, min(when.values()), meters, when, source)
            return out
        for tx in out_tx:
            sel = meters[tx_of == tx]
            out += self._open_and_note("transformer", int(tx), min(when[int(m)] for m in sel), sel, when, source)
        for m in meters[~np.isin(tx_of, out_tx)]:
            out += self._lone(int(m), when[int(m)], source)
        return out

    def _lone(self, m: int, t: float, source: str) -> list:
        if source == "readings_absent":
            return self._open_and_note("meter", m, t, [m], {}, source)
        if self.last_on[m] >= t:  # the glitch's POWER_ON came within the correlation window
            return []
        self._candidates[m] = t
        self._schedule(t + self.cfg.confirm_s, "candidate", m)
        return []

    def _on_candidate(self, m: int) -> list:
        gasp = self._candidates.get(m)
        if gasp is None:
            return []
        if not self.readings_fed:
            del self._candidates[m]
            return self._open_and_note("meter", m, gasp, [m], {m: gasp}, "last_gasp+no_restore")
        whole = (math.floor(gasp / self.cfg.interval_s) + 2) * self.cfg.interval_s  # first whole interval's end
        due = whole + self.cfg.readings_lag_s
        if self.now < due:
            self._schedule(due, "candidate", m)
            return []
        del self._candidates[m]
        if self.last_read[m] >= whole:  # it kept metering: supply was never lost
            return []
        return self._open_and_note("meter", m, gasp, [m], {m: gasp}, "last_gasp+readings_absent")

    def _silent(self, now: float) -> list:
        limit = now - self.cfg.silent_intervals * self.cfg.interval_s
        quiet = np.flatnonzero((self.last_read < limit) & (self.meter_outage == 0) & (self.net.meter_tx > 0))
        quiet = np.array([m for m in quiet if m not in self._candidates], np.int64)
        if not len(quiet):
            return []
        out: list = []
        feeders = self.net.tx_feeder[self.net.meter_tx[quiet]]
        for f in np.unique(feeders):
            sel = quiet[feeders == f]
            pending = self._clusters.get(int(f), {})
            sel = sel[~np.isin(sel, list(pending))]
            if len(sel):
                out += self._correlate(int(f), {int(m): float(self.last_read[m]) for m in sel}, "readings_absent")
        return out

    def _open_and_note(self, level, asset_id, started, meters, gasps, source) -> list:
        meters = np.asarray(self.net.meters_of(level, int(asset_id)))
        meters = meters[self.meter_outage[meters] == 0]
        self._candidates = {m: g for m, g in self._candidates.items() if m not in set(meters.tolist())}
        oid = self._next_id
        self._next_id += 1
        parents = self.net.parents(level, int(asset_id))
        announced = self.planned.match(parents, started, self.now)
        last_gasp = max((gasps[int(m)] for m in meters if int(m) in gasps), default=float("nan"))
        if source == "readings_absent":
            last_gasp = float("nan")
        opened = OutageOpened(oid, level, int(asset_id), int(round(started)), len(meters), announced is not None,
                              source, self.now, last_gasp)
        self.meter_outage[meters] = oid
        self._meters[oid] = meters
        o = ActiveOutage(opened, meters, {}, set())
        self._active[oid] = o
        self._rows[oid] = {**asdict(opened), **self.net.place(level, int(asset_id)), "restored_unix_s": np.nan,
                           "announced_unix_s": announced or 0, "momentary": False,
                           "cause": "planned" if announced is not None else "unknown", "closed_unix_s": np.nan}
        for m in meters:  # restores seen before the decision (a momentary can be over by then)
            if self.last_on[m] >= started:
                o.restore_s[int(m)] = self.last_on[m] - self.cfg.power_on_delay_s
                o.restored_from.add("power_on")
        return [opened] + self._check_restore(o)

    def _check_restore(self, o: ActiveOutage) -> list:
        if o.close_due is None and len(o.restore_s) >= max(1, math.ceil(self.cfg.close_share * len(o.meters))):
            o.close_due = self.now + self.cfg.settle_s
            self._schedule(o.close_due, "close", o.opened.outage_id)
        return []

    def _on_close(self, oid: int) -> list:
        o = self._active.pop(oid)
        restored = int(round(max(float(np.median(list(o.restore_s.values()))), o.opened.started_unix_s)))
        momentary = restored - o.opened.started_unix_s <= MOMENTARY_MAX_S
        self.meter_outage[o.meters] = 0
        self.last_read[o.meters] = np.maximum(self.last_read[o.meters], restored)
        src = "power_on" if "power_on" in o.restored_from else "readings"
        self._rows[oid].update(restored_unix_s=restored, momentary=momentary, closed_unix_s=self.now)
        return [OutageClosed(oid, restored, momentary, src, self.now)]

    # -- output ---------------------------------------------------------------------------
    def outage_row(self, oid: int) -> dict:
        return self._rows[oid]

    def meters_of_outage(self, oid: int) -> np.ndarray:
        """The meters an outage took off supply."""
        return self._meters[oid]

    def forget_closed(self) -> None:
        """Drop what is kept of closed outages (a long-running detector keeps only what is open)."""
        self._rows = {oid: row for oid, row in self._rows.items() if oid in self._active}
        self._meters = {oid: m for oid, m in self._meters.items() if oid in self._active}

    def __getstate__(self) -> dict:
        """A checkpoint: everything but the network and planned work, which are rebuilt from their tables."""
        return {k: v for k, v in self.__dict__.items() if k not in ("net", "planned")}

    def restore(self, state: dict, net: Network, planned: PlannedWork) -> None:
        self.__dict__.update(state)
        self.planned = planned
        self.use_network(net)

    def use_network(self, net: Network) -> None:
        """Correlate over a changed network from now on (meters added: their arrays grow)."""
        grow = net.n_meter_ids - len(self.meter_outage)
        if grow > 0:
            self.meter_outage = np.concatenate([self.meter_outage, np.zeros(grow, np.int64)])
            self.last_on = np.concatenate([self.last_on, np.full(grow, -np.inf)])
            self.last_read = np.concatenate([self.last_read, np.full(grow, self.now)])
        self.net = net

    def use_planned_work(self, planned: PlannedWork) -> None:
        self.planned = planned

    def outages(self) -> pd.DataFrame:
        cols = list(OUTAGE_COLUMNS) + list(DETECTOR_COLUMNS)
        if not self._rows:
            return pd.DataFrame(columns=cols)
        return pd.DataFrame(list(self._rows.values()))[cols]
