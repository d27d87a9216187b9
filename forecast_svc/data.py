"""Demand series from the synthetic fleet, built the way the service builds them: the sum of the
meters' metered (import) demand per scope and 15-minute step, readings with a negative value left
out (ingest rejects those). Temperature comes from the fleet's regional weather truth.

A series is a DataFrame with columns ds (UTC step end, tz-aware), y (MW) and optionally
temperature_c.
"""

import numpy as np
import pandas as pd

from meters.fleet import FleetConfig, generate_topology, iter_fleet_chunks
from meters.fleet.calendar import REGIONS
from meters.fleet.generate import TruthAccumulator


def fleet_series(cfg: FleetConfig) -> dict[str, pd.DataFrame]:
    """{"network": series, "NSW": series, ...} for the whole run of `cfg`."""
    topo = generate_topology(cfg)
    meter_region = _meter_regions(topo)
    truth = TruthAccumulator(cfg)
    sums: dict[int, np.ndarray] = {}  # unix end -> per-region kW
    for fc in iter_fleet_chunks(cfg, topo):
        r = fc.readings
        truth.add_demand(fc)
        ok = r.demand_kw >= 0
        times, inverse = np.unique(r.reading_times_unix_s[ok], return_inverse=True)
        acc = np.zeros((len(times), len(REGIONS)))
        np.add.at(acc, (inverse, meter_region[r.meter_ids[ok]]), r.demand_kw[ok])
        for t, row in zip(times.tolist(), acc):
            sums[t] = sums.get(t, 0.0) + row
    times = np.array(sorted(sums), dtype=np.int64)
    mw = np.vstack([sums[t] for t in times]) / 1000.0
    weather = truth.regional_demand().pivot(index="reading_time_unix_s", columns="region", values="temperature_c")
    temp = weather.reindex(times)[list(REGIONS)].to_numpy()
    ds = pd.to_datetime(times, unit="s", utc=True)
    out = {reg: pd.DataFrame({"ds": ds, "y": mw[:, i], "temperature_c": temp[:, i]}) for i, reg in enumerate(REGIONS)}
    # The network's temperature: regions weighted by their mean demand.
    weights = mw.mean(axis=0) / mw.mean(axis=0).sum()
    out["network"] = pd.DataFrame({"ds": ds, "y": mw.sum(axis=1), "temperature_c": temp @ weights})
    return out


def _meter_regions(topo) -> np.ndarray:
    """Region index by meter id (index 0 unused)."""
    sub_region = topo.substations.set_index("substation_id")["region"].map({r: i for i, r in enumerate(REGIONS)})
    tx_region = topo.transformers.set_index("transformer_id")["substation_id"].map(sub_region)
    lookup = np.zeros(int(topo.meters.meter_id.max()) + 1, dtype=np.int64)
    lookup[topo.meters.meter_id.to_numpy()] = topo.meters.transformer_id.map(tx_region).to_numpy()
    return lookup
