"""The topology the detector correlates over: meter -> transformer -> feeder -> substation -> region."""

import numpy as np
import pandas as pd


def _table(tables, name: str) -> pd.DataFrame:
    return tables[name] if isinstance(tables, dict) else getattr(tables, name)


class Network:
    """Arrays indexed by id: a meter's transformer, a transformer's feeder, each asset's meters."""

    def __init__(self, tables):
        meters, tx = _table(tables, "meters"), _table(tables, "transformers")
        subs = _table(tables, "substations")
        mid = meters["meter_id"].to_numpy(np.int64)
        self.n_meter_ids = int(mid.max()) + 1
        self.meter_tx = np.zeros(self.n_meter_ids, np.int64)
        self.meter_tx[mid] = meters["transformer_id"].to_numpy(np.int64)
        tid = tx["transformer_id"].to_numpy(np.int64)
        n_tx = int(tid.max()) + 1
        self.tx_feeder = np.zeros(n_tx, np.int64)
        self.tx_feeder[tid] = tx["feeder_id"].to_numpy(np.int64)
        self.tx_substation = np.zeros(n_tx, np.int64)
        self.tx_substation[tid] = tx["substation_id"].to_numpy(np.int64)
        self.substation_region = dict(zip(subs["substation_id"].astype(int), subs["region"].astype(str)))
        order = np.argsort(self.meter_tx[mid], kind="stable")
        by_tx = mid[order]
        bounds = np.searchsorted(self.meter_tx[by_tx], np.arange(n_tx + 1))
        self.tx_meters = [by_tx[bounds[i]:bounds[i + 1]] for i in range(n_tx)]
        self.tx_size = np.diff(bounds)
        self.feeder_txs: dict[int, np.ndarray] = {
            int(f): np.sort(tid[tx["feeder_id"].to_numpy() == f]) for f in np.unique(self.tx_feeder[tid])}

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
