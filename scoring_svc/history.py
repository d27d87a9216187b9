"""Each meter's recent readings, kept in memory for the sequence model.

A fixed ring of `depth` slots per meter in dense arrays (no per-meter Python objects):
~28 bytes a reading at float32 values, so 96 slots (24 h at 15 minutes) cost ~2.7 kB a
meter. Lost on restart; a replay from the committed offsets refills it.
"""

import numpy as np

from meters.readings import FLOAT_COLUMNS, ReadingColumns


class MeterHistory:
    def __init__(self, depth: int = 96, capacity: int = 1024):
        self.depth = depth
        self._slot: dict[int, int] = {}
        self._times = np.full((capacity, depth), -1, dtype=np.int64)
        self._values = np.zeros((capacity, depth, len(FLOAT_COLUMNS)), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._slot)

    def _slots(self, meter_ids: np.ndarray, create: bool) -> np.ndarray:
        out = np.empty(len(meter_ids), dtype=np.int64)
        for i, m in enumerate(meter_ids.tolist()):
            s = self._slot.get(m)
            if s is None:
                if not create:
                    out[i] = -1
                    continue
                s = self._slot[m] = len(self._slot)
                if s >= len(self._times):
                    self._grow()
            out[i] = s
        return out

    def _grow(self) -> None:
        n = len(self._times)
        self._times = np.concatenate([self._times, np.full((n, self.depth), -1, dtype=np.int64)])
        self._values = np.concatenate([self._values, np.zeros_like(self._values)])

    def before(self, cols: ReadingColumns, history_s: int) -> ReadingColumns:
        """Stored readings of the meters in `cols` within `history_s` before their earliest reading there."""
        meters, first = _first_times(cols)
        slots = self._slots(meters, create=False)
        known = slots >= 0
        slots, first, meters = slots[known], first[known], meters[known]
        times = self._times[slots]
        keep = (times >= 0) & (times < first[:, None]) & (times >= first[:, None] - history_s)
        r, c = np.nonzero(keep)
        vals = self._values[slots[r], c].astype(np.float64)
        return ReadingColumns(meters[r], times[r, c], *(vals[:, k] for k in range(vals.shape[1])))

    def add(self, cols: ReadingColumns) -> None:
        """Remember readings: each replaces its meter's oldest slot (readings in time order per meter)."""
        if not len(cols):
            return
        order = np.lexsort((cols.reading_times_unix_s, cols.meter_ids))
        ids, times = cols.meter_ids[order], cols.reading_times_unix_s[order]
        values = np.column_stack([getattr(cols, n)[order] for n in FLOAT_COLUMNS]).astype(np.float32)
        slots = self._slots(ids, create=True)
        for i, s in enumerate(slots.tolist()):
            row = self._times[s]
            t = times[i]
            if (row == t).any():  # a replayed reading: already remembered
                continue
            k = int(np.argmin(row))  # the oldest (or an empty, -1) slot
            if row[k] > t:
                continue  # older than everything kept: not worth a slot
            row[k] = t
            self._values[s, k] = values[i]


def _first_times(cols: ReadingColumns) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((cols.reading_times_unix_s, cols.meter_ids))
    ids, times = cols.meter_ids[order], cols.reading_times_unix_s[order]
    head = np.r_[True, ids[1:] != ids[:-1]]
    return ids[head], times[head]
