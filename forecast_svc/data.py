"""Demand series from the synthetic fleet, built the way the service builds them: the sum of the
meters' metered (import) demand per scope and 15-minute step, readings with a negative value left
out (ingest rejects those). Temperature comes from the fleet's regional weather.

The fleet is generated chunk by chunk and only the per-(step, region) sums are kept, so a fleet of
hundreds of thousands of meters needs no more memory than one chunk; the sums are cached (a few
hundred kB per run) so `meters evaluate` does not generate the fleet again after `meters train`.

A series is a DataFrame with columns ds (UTC step end, tz-aware), y (MW) and temperature_c.
"""

import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

import meters.fleet as fleet_package
from meters.fleet import FleetConfig, generate_topology, iter_reading_chunks
from meters.fleet.calendar import REGIONS, RegionClock, daily_weather, interval_end_times

log = logging.getLogger(__name__)


def fleet_series(cfg: FleetConfig, cache_dir: Path | None = None) -> dict[str, pd.DataFrame]:
    """{"network": series, "NSW": series, ...} for the whole run of `cfg`."""
    path = cache_dir / f"forecast-demand-{_key(cfg)}.parquet" if cache_dir else None
    if path is not None and path.exists():
        table = pd.read_parquet(path)
    else:
        table = _aggregate(cfg)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            table.to_parquet(path.with_suffix(".tmp"))
            path.with_suffix(".tmp").rename(path)
    return _series(table)


def _key(cfg: FleetConfig) -> str:
    """Size, seed and a hash of the whole config and of the fleet generator's code (a changed
    generator must not be answered from an old cache)."""
    digest = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
    for source in sorted(Path(fleet_package.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return f"{cfg.meters}m-{cfg.days}d-seed{cfg.seed}-{digest.hexdigest()[:10]}"


def _aggregate(cfg: FleetConfig) -> pd.DataFrame:
    """One row per (step, region): ds_unix_s, region, mw, temperature_c."""
    t0 = time.monotonic()
    topo = generate_topology(cfg)
    meter_region = _meter_regions(topo)
    steps, n_reg = cfg.intervals_per_day, len(REGIONS)
    kw = np.zeros((cfg.days, steps * n_reg))
    readings = 0
    for chunk in iter_reading_chunks(cfg, topo):
        ok = chunk.demand_kw >= 0
        step = (chunk.reading_times_unix_s[ok] - interval_end_times(cfg, chunk.day)[0]) // cfg.interval_seconds
        cell = step * n_reg + meter_region[chunk.meter_ids[ok]]
        kw[chunk.day] += np.bincount(cell, weights=chunk.demand_kw[ok], minlength=steps * n_reg)
        readings += len(chunk)
    weather = daily_weather(cfg)
    temps = np.concatenate([RegionClock(cfg, d, weather).temp_c.T for d in range(cfg.days)])  # (steps, regions)
    times = np.concatenate([interval_end_times(cfg, d) for d in range(cfg.days)])
    log.info("fleet demand aggregated", extra={"fields": {
        "meters": cfg.meters, "days": cfg.days, "readings": readings, "seconds": round(time.monotonic() - t0, 1)}})
    return pd.DataFrame({
        "ds_unix_s": np.repeat(times, n_reg),
        "region": np.tile(np.array(REGIONS), len(times)),
        "mw": kw.reshape(-1) / 1000.0,
        "temperature_c": temps.reshape(-1),
    })


def _series(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    mw = table.pivot(index="ds_unix_s", columns="region", values="mw")[list(REGIONS)]
    temp = table.pivot(index="ds_unix_s", columns="region", values="temperature_c")[list(REGIONS)]
    ds = pd.to_datetime(mw.index.to_numpy(), unit="s", utc=True)
    out = {r: pd.DataFrame({"ds": ds, "y": mw[r].to_numpy(), "temperature_c": temp[r].to_numpy()}) for r in REGIONS}
    # The network's temperature: regions weighted by their mean demand.
    weights = mw.mean(axis=0).to_numpy() / mw.mean(axis=0).sum()
    out["network"] = pd.DataFrame({"ds": ds, "y": mw.sum(axis=1).to_numpy(), "temperature_c": temp.to_numpy() @ weights})
    return out


def _meter_regions(topo) -> np.ndarray:
    """Region index by meter id (index 0 unused)."""
    sub_region = topo.substations.set_index("substation_id")["region"].map({r: i for i, r in enumerate(REGIONS)})
    tx_region = topo.transformers.set_index("transformer_id")["substation_id"].map(sub_region)
    lookup = np.zeros(int(topo.meters.meter_id.max()) + 1, dtype=np.int64)
    lookup[topo.meters.meter_id.to_numpy()] = topo.meters.transformer_id.map(tx_region).to_numpy()
    return lookup
