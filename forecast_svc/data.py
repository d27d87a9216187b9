"""Demand series from the synthetic fleet, built the way the service builds them: the sum of the
meters' metered (import) demand per scope and 15-minute step, readings with a negative value left
out (ingest rejects those). Temperature comes from the fleet's regional weather.

The fleet is generated chunk by chunk and only the per-(step, region) sums are kept, so a fleet of
hundreds of thousands of meters needs no more memory than one chunk; the sums are cached (a few
hundred kB per run) so `meters evaluate` does not generate the fleet again after `meters train`.
The same pass sums a sample of zone substations and of transformers (SAMPLE_SUBSTATIONS,
SAMPLE_TRANSFORMERS, evenly spaced by id, so spread over the regions by size) for the evaluation
of the scopes that borrow a model (`scope_series`), cached next to the regions' sums.

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
from forecast_svc.scopes import SUBSTATION, TRANSFORMER, Scope
from meters.fleet.calendar import REGIONS, RegionClock, daily_weather, interval_end_times

log = logging.getLogger(__name__)


SAMPLE_SUBSTATIONS = 12
SAMPLE_TRANSFORMERS = 60


def fleet_series(cfg: FleetConfig, cache_dir: Path | None = None) -> dict[str, pd.DataFrame]:
    """{"network": series, "NSW": series, ...} for the whole run of `cfg`."""
    return _series(_tables(cfg, cache_dir)[0])


def scope_series(cfg: FleetConfig, cache_dir: Path | None = None) -> dict[Scope, pd.DataFrame]:
    """The sampled substations' and transformers' series (ds, y; no temperature: the service
    measures none for them), keyed by Scope (kind, id, region)."""
    table = _tables(cfg, cache_dir)[1]
    out = {}
    for (kind, scope_id, region), rows in table.groupby(["kind", "scope_id", "region"], sort=False):
        ds = pd.to_datetime(rows["ds_unix_s"].to_numpy(), unit="s", utc=True)
        out[Scope(kind, scope_id, region)] = pd.DataFrame({"ds": ds, "y": rows["mw"].to_numpy()})
    return out


def _tables(cfg: FleetConfig, cache_dir: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per step and region, per step and sampled scope), from the cache when both are there."""
    paths = ([cache_dir / f"forecast-{what}-{_key(cfg)}.parquet" for what in ("demand", "scopes")]
             if cache_dir else [])
    if paths and all(p.exists() for p in paths):
        return pd.read_parquet(paths[0]), pd.read_parquet(paths[1])
    tables = _aggregate(cfg)
    for path, table in zip(paths, tables):
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(path.with_suffix(".tmp"))
        path.with_suffix(".tmp").rename(path)
    return tables


def _key(cfg: FleetConfig) -> str:
    """Size, seed and a hash of the whole config and of the fleet generator's code (a changed
    generator must not be answered from an old cache)."""
    digest = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
    for source in sorted(Path(fleet_package.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return f"{cfg.meters}m-{cfg.days}d-seed{cfg.seed}-{digest.hexdigest()[:10]}"


def _aggregate(cfg: FleetConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per (step, region): ds_unix_s, region, mw, temperature_c; and one per (step, sampled
    scope): ds_unix_s, kind, scope_id, region, mw."""
    t0 = time.monotonic()
    topo = generate_topology(cfg)
    meter_region = _meter_regions(topo)
    sample, meter_sample = _scope_sample(topo)  # meter_sample: (2, meters + 1), -1 = not sampled
    steps, n_reg, n_sample = cfg.intervals_per_day, len(REGIONS), len(sample)
    kw = np.zeros((cfg.days, steps * n_reg))
    scope_kw = np.zeros((cfg.days, steps * n_sample))
    readings = 0
    for chunk in iter_reading_chunks(cfg, topo):
        ok = chunk.demand_kw >= 0
        step = (chunk.reading_times_unix_s[ok] - interval_end_times(cfg, chunk.day)[0]) // cfg.interval_seconds
        ids, demand = chunk.meter_ids[ok], chunk.demand_kw[ok]
        cell = step * n_reg + meter_region[ids]
        kw[chunk.day] += np.bincount(cell, weights=demand, minlength=steps * n_reg)
        for of in meter_sample:  # a meter is in at most one sampled substation and one transformer
            hit = of[ids] >= 0
            scope_kw[chunk.day] += np.bincount(step[hit] * n_sample + of[ids[hit]], weights=demand[hit],
                                               minlength=steps * n_sample)
        readings += len(chunk)
    weather = daily_weather(cfg)
    temps = np.concatenate([RegionClock(cfg, d, weather).temp_c.T for d in range(cfg.days)])  # (steps, regions)
    times = np.concatenate([interval_end_times(cfg, d) for d in range(cfg.days)])
    log.info("fleet demand aggregated", extra={"fields": {
        "meters": cfg.meters, "days": cfg.days, "readings": readings, "seconds": round(time.monotonic() - t0, 1)}})
    regions = pd.DataFrame({
        "ds_unix_s": np.repeat(times, n_reg),
        "region": np.tile(np.array(REGIONS), len(times)),
        "mw": kw.reshape(-1) / 1000.0,
        "temperature_c": temps.reshape(-1),
    })
    scopes = pd.DataFrame({
        "ds_unix_s": np.repeat(times, n_sample),
        **{col: np.tile(sample[col].to_numpy(), len(times)) for col in ("kind", "scope_id", "region")},
        "mw": scope_kw.reshape(-1) / 1000.0,
    })
    return regions, scopes.sort_values(["kind", "scope_id", "ds_unix_s"], kind="stable", ignore_index=True)


def _scope_sample(topo) -> tuple[pd.DataFrame, np.ndarray]:
    """SAMPLE_SUBSTATIONS substations and SAMPLE_TRANSFORMERS transformers evenly spaced by id (ids
    run region by region, so the sample spreads over the regions by size): (kind, scope_id, region)
    per sampled scope, and per meter id the index of its sampled substation / transformer or -1."""
    subs, txs = topo.substations, topo.transformers
    sub_region = subs.set_index("substation_id")["region"]
    tx_sub = txs.set_index("transformer_id")["substation_id"]
    sub_ids = _evenly(subs["substation_id"].to_numpy(), SAMPLE_SUBSTATIONS)
    tx_ids = _evenly(txs["transformer_id"].to_numpy(), SAMPLE_TRANSFORMERS)
    sample = pd.DataFrame({
        "kind": [SUBSTATION] * len(sub_ids) + [TRANSFORMER] * len(tx_ids),
        "scope_id": [str(i) for i in (*sub_ids, *tx_ids)],
        "region": [*sub_region[sub_ids], *sub_region[tx_sub[tx_ids].to_numpy()]],
    })
    meter_ids = topo.meters["meter_id"].to_numpy()
    meter_tx = topo.meters["transformer_id"].to_numpy()
    meter_sample = np.full((2, int(meter_ids.max()) + 1), -1, dtype=np.int64)
    meter_sample[0, meter_ids] = _index_in(tx_sub[meter_tx].to_numpy(), sub_ids)
    meter_sample[1, meter_ids] = _index_in(meter_tx, tx_ids, offset=len(sub_ids))
    return sample, meter_sample


def _evenly(ids: np.ndarray, n: int) -> np.ndarray:
    return np.unique(ids[np.linspace(0, len(ids) - 1, min(n, len(ids))).round().astype(int)])


def _index_in(values: np.ndarray, chosen: np.ndarray, offset: int = 0) -> np.ndarray:
    """Position of each value in `chosen` (+ offset), -1 where it is not chosen."""
    pos = np.searchsorted(chosen, values).clip(0, len(chosen) - 1)
    return np.where(chosen[pos] == values, pos + offset, -1)


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
