"""The topology the detector correlates over: meter -> transformer -> feeder -> substation -> region."""

import numpy as np
import pandas as pd


def _table(tables, name: str) -> pd.DataFrame:
    return tables[name] if isinstance(tables, dict) else getattr(tables, name)


class ById:
    """Values looked up by asset id (an int or an array of ids) over the sorted ids: no array as long as
    the largest id (transformer ids like 77,001,001 are real asset numbers)."""

    def __init__(self, ids: np.ndarray, values):
        self.ids = ids
        self.values = values

    def __getitem__(self, key):
        idx = np.searchsorted(self.ids, key)
        if np.ndim(idx) == 0:
            return self.values[int(idx)]
        return np.asarray(self.values)[idx]


class Network:
    """A meter's transformer (array indexed by meter id), a transformer's feeder, substation, meters and
    size (by transformer id), each feeder's transformers."""

    def __init__(self, tables):
        meters, tx = _table(tables, "meters"), _table(tables, "transformers")
        subs = _table(tables, "substations")
        mid = meters["meter_id"].to_numpy(np.int64)
        self.n_meter_ids = int(mid.max()) + 1
        self.meter_tx = np.zeros(self.n_meter_ids, np.int64)
        self.meter_tx[mid] = meters["transformer_id"].to_numpy(np.int64)
        order = np.argsort(tx["transformer_id"].to_numpy(np.int64), kind="stable")
        tid = tx["transformer_id"].to_numpy(np.int64)[order]
        feeder = tx["feeder_id"].to_numpy(np.int64)[order]
        self.tx_feeder = ById(tid, feeder)
        self.tx_substation = ById(tid, tx["substation_id"].to_numpy(np.int64)[order])
        self.substation_region = dict(zip(subs["substation_id"].astype(int), subs["region"].astype(str)))
        by_tx = mid[np.argsort(self.meter_tx[mid], kind="stable")]
        tx_of = self.meter_tx[by_tx]
        lo, hi = np.searchsorted(tx_of, tid, "left"), np.searchsorted(tx_of, tid, "right")
        self.tx_meters = ById(tid, [by_tx[a:b] for a, b in zip(lo, hi)])
        self.tx_size = ById(tid, hi - lo)
        f_order = np.argsort(feeder, kind="stable")
        f_sorted, t_sorted = feeder[f_order], tid[f_order]
        starts = np.flatnonzero(np.r_[True, f_sorted[1:] != f_sorted[:-1]])
        self.feeder_txs: dict[int, np.ndarray] = {
            int(f_sorted[a]): np.sort(t_sorted[a:b]) for a, b in zip(starts, np.r_[starts[1:], len(f_sorted)])}

    def meters_of(self, level: str, asset_id: int) -> np.ndarray:
        if level == "meter":
            return np.array([asset_id], np.int64)
        if level == "transformer":
            return self.tx_meters[asset_id]
        return np.concatenate([self.tx_meters[t] for t in self.feeder_txs[asset_id]])

    def place(self, level: str, asset_id: int) -> dict:
        """region, substation_id, feeder_id, transformer_id of an asset (transformer_id 0 for a feeder)."""
        if level == "feeder":
            tx = int(self.feeder_txs[asset_id][0])
            transformer_id = 0
        else:
            tx = int(self.meter_tx[asset_id]) if level == "meter" else asset_id
            transformer_id = tx
        sub = int(self.tx_substation[tx])
        return {"region": self.substation_region[sub], "substation_id": sub,
                "feeder_id": int(self.tx_feeder[tx]), "transformer_id": transformer_id}

    def parents(self, level: str, asset_id: int) -> list[tuple[str, int]]:
        """The asset and the assets above it (for planned work registered on any of them)."""
        place = self.place(level, asset_id)
        out = [(level, asset_id)]
        if level == "meter":
            out.append(("transformer", place["transformer_id"]))
        if level != "feeder":
            out.append(("feeder", place["feeder_id"]))
        return out
