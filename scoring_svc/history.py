"""Each meter's recent readings, kept in memory for the sequence model.

A ring of `depth` slots per meter in dense arrays (no per-meter Python objects, no loop
per reading): 24 bytes a reading (int32 seconds from EPOCH_S, five float32 values), so 96
slots (24 h at 15 minutes) cost ~2.3 kB a meter. Lost on restart; the consumer refills it from the log when it is given
partitions (scoring_svc/refill.py).
"""

import threading

import numpy as np

from meters.readings import FLOAT_COLUMNS, ReadingColumns

EPOCH_S = 1_600_000_000  # times are kept as int32 seconds from here: 1952 to 2088
EMPTY = np.iinfo(np.int32).min  # a slot never written
CHUNK = 10_000  # readings added under the lock at once: bounds the (chunk x depth) temporaries and the wait of readers


class MeterHistory:
    """Safe to share between the stream's worker thread (add) and the event loop (before)."""

    def __init__(self, depth: int = 96, capacity: int = 1024):
        self.depth = depth
        self._lock = threading.Lock()
        self._ids = np.empty(0, dtype=np.int64)  # known meters, sorted
        self._slot_of = np.empty(0, dtype=np.int64)  # slot of each of _ids
        self._next = np.zeros(capacity, dtype=np.int64)  # per slot: ring position written next
        self._times = np.full((capacity, depth), EMPTY, dtype=np.int32)
        self._values = np.zeros((capacity, depth, len(FLOAT_COLUMNS)), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._ids)

    def _lookup(self, meter_ids: np.ndarray) -> np.ndarray:
        """Slot of each meter, -1 for meters never seen."""
        if not len(self._ids):
            return np.full(len(meter_ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._ids, meter_ids), len(self._ids) - 1)
        return np.where(self._ids[pos] == meter_ids, self._slot_of[pos], -1)

    def _create(self, unique_ids: np.ndarray) -> np.ndarray:
        """Slots of sorted, distinct meters, new ones given the next free slots."""
        slots = self._lookup(unique_ids)
        new = slots < 0
        if new.any():
            n = len(self._ids)
            slots[new] = np.arange(n, n + int(new.sum()))
            while n + new.sum() > len(self._times):
                self._grow()
            ids = np.concatenate([self._ids, unique_ids[new]])
            order = np.argsort(ids, kind="stable")
            self._ids, self._slot_of = ids[order], np.concatenate([self._slot_of, slots[new]])[order]
        return slots

    def _grow(self) -> None:
        n = len(self._times)
        self._next = np.concatenate([self._next, np.zeros(n, dtype=np.int64)])
        self._times = np.concatenate([self._times, np.full((n, self.depth), EMPTY, dtype=np.int32)])
        self._values = np.concatenate([self._values, np.zeros_like(self._values)])

    def before(self, cols: ReadingColumns, history_s: int) -> ReadingColumns:
        """Stored readings of the meters in `cols` within `history_s` before their earliest reading there."""
        meters, first = _first_times(cols)
        with self._lock:
            slots = self._lookup(meters)
            known = slots >= 0
            slots, first, meters = slots[known], first[known], meters[known]
            stored = self._times[slots]
            times = stored.astype(np.int64) + EPOCH_S
            keep = (stored != EMPTY) & (times < first[:, None]) & (times >= first[:, None] - history_s)
            r, c = np.nonzero(keep)
            vals = self._values[slots[r], c].astype(np.float64)
        return ReadingColumns(meters[r], times[r, c], *(vals[:, k] for k in range(vals.shape[1])))

    def add(self, cols: ReadingColumns) -> None:
        """Remember readings; each meter keeps its `depth` most recent (a replayed reading is kept once)."""
        order = np.lexsort((cols.reading_times_unix_s, cols.meter_ids))
        for start in range(0, len(order), CHUNK):
            part = order[start:start + CHUNK]
            values = np.column_stack([getattr(cols, n)[part] for n in FLOAT_COLUMNS]).astype(np.float32)
            with self._lock:
                    self._add_sorted(cols.meter_ids[part],
                                 (cols.reading_times_unix_s[part] - EPOCH_S).astype(np.int32), values)

    def _add_sorted(self, ids: np.ndarray, times: np.ndarray, values: np.ndarray) -> None:
        uniq, inverse = np.unique(ids, return_inverse=True)
        slots = self._create(uniq)[inverse]
        stored = self._times[slots]
        full = (stored != EMPTY).all(axis=1)
        oldest = np.where(full, stored.min(axis=1), EMPTY)
        again = np.r_[False, (ids[1:] == ids[:-1]) & (times[1:] == times[:-1])]
        # Not worth a slot: already remembered, twice in this batch, or older than all of a full ring.
        keep = ~((stored == times[:, None]).any(axis=1) | again | (times < oldest))
        ids, times, values, slots = ids[keep], times[keep], values[keep], slots[keep]
        if not len(ids):
            return
        head = np.r_[True, ids[1:] != ids[:-1]]
        group_start = np.maximum.accumulate(np.where(head, np.arange(len(ids)), 0))
        rank = np.arange(len(ids)) - group_start
        size = np.diff(np.r_[np.flatnonzero(head), len(ids)])[np.cumsum(head) - 1]
        last = rank >= size - self.depth  # more than `depth` of one meter: only the latest fit
        pos = (self._next[slots] + rank) % self.depth
        self._times[slots[last], pos[last]] = times[last]
        self._values[slots[last], pos[last]] = values[last]
        firsts = slots[head]
        self._next[firsts] = (self._next[firsts] + size[head]) % self.depth


def _first_times(cols: ReadingColumns) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((cols.reading_times_unix_s, cols.meter_ids))
    ids, times = cols.meter_ids[order], cols.reading_times_unix_s[order]
    head = np.r_[True, ids[1:] != ids[:-1]]
    return ids[head], times[head]
