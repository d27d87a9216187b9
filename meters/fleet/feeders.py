"""11 kV feeders: the level between zone substation and distribution transformer.

Each zone substation's transformers (contiguous ids) are split into a handful of feeders of
12-40 transformers (a substation's last feeder takes the remainder, so it may be smaller), so a
feeder is a contiguous transformer-id range and a contiguous meter-id range too. Feeders come from
their own random stream ([seed, 11]): adding them changes no other output of the topology.

Category follows the AER STPIS feeder classes (urban, short rural, long rural; no CBD feeders in a
fleet of residential transformers); the rural share rises in the less dense states.
"""

import numpy as np
import pandas as pd

from meters.fleet.config import FleetConfig

FEEDER_TRANSFORMERS = (12, 40)  # transformers per feeder: ~300-1,600 customers on an 11 kV feeder
CATEGORIES = ("urban", "short_rural", "long_rural")
# Region -> shares of (urban, short rural, long rural) feeders.
CATEGORY_SHARES = {
    "NSW": (0.70, 0.22, 0.08), "VIC": (0.72, 0.20, 0.08), "QLD": (0.62, 0.26, 0.12),
    "SA": (0.62, 0.26, 0.12), "TAS": (0.45, 0.35, 0.20),
}
LENGTH_KM = {"urban": (3.0, 15.0), "short_rural": (15.0, 60.0), "long_rural": (60.0, 250.0)}


def _split(total: int, low: int, high: int, rng: np.random.Generator) -> np.ndarray:
    """Sizes in [low, high] summing to total (the last one may be smaller)."""
    sizes = rng.integers(low, high + 1, total // low + 1)
    ends = np.cumsum(sizes)
    n = int(np.searchsorted(ends, total)) + 1
    sizes = sizes[:n]
    sizes[-1] -= ends[n - 1] - total
    return sizes


def plan_feeders(cfg: FleetConfig, substations: pd.DataFrame, transformers: pd.DataFrame,
                 meters: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """(feeders table, feeder_id per transformer row). Transformers must be ordered by substation."""
    rng = np.random.default_rng([cfg.seed, 11])
    tx_sub = transformers["substation_id"].to_numpy()
    subs, per_sub = np.unique(tx_sub, return_counts=True)
    sizes = [_split(int(n), *FEEDER_TRANSFORMERS, rng) for n in per_sub]  # a loop over substations
    feeder_sub = np.repeat(subs, [len(s) for s in sizes])
    sizes = np.concatenate(sizes)
    tx_feeder = np.repeat(np.arange(1, len(sizes) + 1, dtype=np.int64), sizes)
    region = substations.set_index("substation_id").loc[feeder_sub, "region"].to_numpy()
    u = rng.random(len(sizes))
    shares = np.array([CATEGORY_SHARES[r] for r in region])
    category = np.array(CATEGORIES, dtype=object)[(u[:, None] > np.cumsum(shares, axis=1)).sum(axis=1).clip(0, 2)]
    lo = np.array([LENGTH_KM[c][0] for c in category])
    hi = np.array([LENGTH_KM[c][1] for c in category])
    length = np.round(lo + (hi - lo) * rng.random(len(sizes)), 1)
    customers = np.bincount(tx_feeder[meters["transformer_id"].to_numpy() - 1], minlength=len(sizes) + 1)[1:]
    starts = np.r_[0, np.flatnonzero(feeder_sub[1:] != feeder_sub[:-1]) + 1]
    number_in_sub = np.arange(len(sizes)) - np.repeat(starts, np.diff(np.r_[starts, len(sizes)]))
    feeders = pd.DataFrame({
        "feeder_id": np.arange(1, len(sizes) + 1, dtype=np.int64),
        "feeder_name": [f"{r}-ZS{s:04d}-F{k + 1:02d}" for r, s, k in zip(region, feeder_sub, number_in_sub)],
        "substation_id": feeder_sub.astype(np.int64),
        "region": region,
        "voltage_kv": 11.0,
        "category": category,
        "length_km": length,
        "transformers": sizes.astype(np.int64),
        "customers": customers.astype(np.int64),
        "first_transformer_id": (np.r_[0, np.cumsum(sizes)[:-1]] + 1).astype(np.int64),
    })
    return feeders, tx_feeder
