"""Customers served: the denominator of every index, counted per region, substation and feeder.

`served` is either one row per meter (meter_id, region, substation_id, feeder_id) or counts
already made (region, substation_id, feeder_id, customers), e.g. one row per feeder. Read from a
fleet's topology/ files with `served_from_topology`.
"""

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

GROUPINGS = {"network": [], "region": ["region"], "substation": ["region", "substation_id"],
             "feeder": ["region", "substation_id", "feeder_id"]}
NETWORK = "network"


def customers_served(served: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Customers per group of `by` (the whole network when empty), in column `customers_served`."""
    counts = served["customers"] if "customers" in served else pd.Series(1, index=served.index)
    if not by:
        return pd.DataFrame({"customers_served": [int(counts.sum())]})
    missing = set(by) - set(served.columns)
    if missing:
        raise ValueError(f"customers served lack columns {sorted(missing)}")
    out = counts.groupby([served[c] for c in by]).sum().rename("customers_served").reset_index()
    out["customers_served"] = out["customers_served"].astype("int64")
    return out


def served_from_topology(meters: pd.DataFrame, transformers: pd.DataFrame, substations: pd.DataFrame) -> pd.DataFrame:
    """One row per meter with its transformer, feeder, substation and region (the fleet's topology tables)."""
    tx = transformers[["transformer_id", "feeder_id", "substation_id"]]
    subs = substations[["substation_id", "region"]]
    out = meters[["meter_id", "transformer_id"]].merge(tx, on="transformer_id", how="left", validate="m:1")
    return out.merge(subs, on="substation_id", how="left", validate="m:1")


def read_topology(path: Path) -> pd.DataFrame:
    """Customers served from a fleet directory (or its topology/ directory)."""
    path = Path(path)
    topo = path / "topology" if (path / "topology").is_dir() else path
    names = ("meters", "transformers", "substations")
    missing = [n for n in names if not (topo / f"{n}.parquet").exists()]
    if missing:
        raise FileNotFoundError(f"{topo} has no {', '.join(n + '.parquet' for n in missing)}")
    tables = [pq.read_table(topo / f"{n}.parquet").to_pandas() for n in names]
    return served_from_topology(*tables)
