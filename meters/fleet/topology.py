"""The network: NEM regions -> zone substations -> 11 kV feeders -> distribution transformers -> meters -> customers.

Meter ids are contiguous per transformer (and transformers per substation), so a
block of whole transformers is a contiguous meter-id range: chunks can compute
transformer loading, and the voltage drop it causes, without seeing other chunks.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meters.fleet.calendar import REGIONS
from meters.fleet.config import FleetConfig
from meters.fleet.feeders import _split, plan_feeders
from meters.fleet.segments import SEGMENT_KEYS, SEGMENT_SHARES, SEGMENTS

TRANSFORMER_SIZES_KVA = np.array([25, 63, 100, 200, 315, 500, 750, 1000, 1500, 2000])
SUBSTATION_SIZES_MVA = np.array([5, 10, 15, 25, 30, 45, 60, 90, 120])
NMI_PREFIX = {"NSW": "4", "VIC": "6", "QLD": "3", "SA": "2", "TAS": "8"}  # first digit of NEM NMIs by state
_YEAR_S = 365.25 * 86_400


@dataclass
class Topology:
    substations: pd.DataFrame
    transformers: pd.DataFrame
    meters: pd.DataFrame
    customers: pd.DataFrame
    # Hidden generation parameters, one row per meter (truth, not something a head-end would know).
    meter_parameters: pd.DataFrame
    # Meter-row index where each chunk starts (whole transformers per chunk), plus the end.
    chunk_bounds: np.ndarray
    # 11 kV feeders between substation and transformer (feeders.py); transformers carry feeder_id.
    feeders: pd.DataFrame | None = None


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    raw = shares / shares.sum() * total
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(raw - counts)[::-1][: total - counts.sum()]] += 1
    return counts


def generate_topology(cfg: FleetConfig) -> Topology:
    rng = np.random.default_rng([cfg.seed, 1])
    region_counts = _largest_remainder(cfg.meters, np.array([cfg.region_shares[r] for r in REGIONS]))
    lo, hi = cfg.customers_per_transformer_range

    tx_sizes, tx_region, tx_sub = [], [], []
    sub_region = []
    for r, count in enumerate(region_counts):  # five regions: loop over regions, not meters
        if count == 0:
            continue
        sizes = _split(int(count), lo, hi, rng)
        per_sub = max(1, round(cfg.meters_per_substation / ((lo + hi) / 2)))
        n_subs = -(-len(sizes) // per_sub)
        tx_sub.append(len(sub_region) + np.arange(len(sizes)) // per_sub)
        sub_region += [r] * n_subs
        tx_sizes.append(sizes)
        tx_region.append(np.full(len(sizes), r))
    tx_sizes = np.concatenate(tx_sizes)
    tx_region = np.concatenate(tx_region)
    tx_sub = np.concatenate(tx_sub)
    n_tx, n = len(tx_sizes), cfg.meters

    meter_tx = np.repeat(np.arange(n_tx), tx_sizes)
    meter_region = tx_region[meter_tx]
    segment = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARES)
    params = _meter_parameters(cfg, segment, rng)

    # Size each transformer to its customers' expected diversified peak, some deliberately tight.
    peak_kw = np.bincount(meter_tx, weights=params["daily_kwh"] / 24.0 * 2.2 + 0.3 * params["ev_kw"], minlength=n_tx)
    headroom = rng.uniform(0.95, 1.6, n_tx)
    capacity_kva = TRANSFORMER_SIZES_KVA[
        np.minimum(np.searchsorted(TRANSFORMER_SIZES_KVA, peak_kw * headroom), len(TRANSFORMER_SIZES_KVA) - 1)
    ]
    start = cfg.start_unix_s
    transformers = pd.DataFrame({
        "transformer_id": np.arange(1, n_tx + 1, dtype=np.int64),
        "transformer_number": [f"TX-{REGIONS[r]}-{i:07d}" for i, r in enumerate(tx_region, 1)],
        "substation_id": (tx_sub + 1).astype(np.int64),
        "capacity_kva": capacity_kva.astype(np.float64),
        "age_years": np.round(rng.gamma(3.0, 6.0, n_tx).clip(0.5, 60.0), 1),
        "last_maintenance_unix_s": (start - rng.uniform(0.1, 6.0, n_tx) * _YEAR_S).astype(np.int64),
    })
    tx_kva_per_sub = np.bincount(tx_sub, weights=capacity_kva)
    sub_mva = SUBSTATION_SIZES_MVA[
        np.minimum(np.searchsorted(SUBSTATION_SIZES_MVA, tx_kva_per_sub / 1000.0 * 0.6), len(SUBSTATION_SIZES_MVA) - 1)
    ]
    substations = pd.DataFrame({
        "substation_id": np.arange(1, len(sub_region) + 1, dtype=np.int64),
        "name": [f"{REGIONS[r]} Zone Substation {i:04d}" for i, r in enumerate(sub_region, 1)],
        "region": [REGIONS[r] for r in sub_region],
        "capacity_mva": sub_mva.astype(np.float64),
    })

    meter_ids = np.arange(1, n + 1, dtype=np.int64)
    phases = params["phases"]
    meters = pd.DataFrame({
        "meter_id": meter_ids,
        "meter_number": [f"{NMI_PREFIX[REGIONS[r]]}{i:09d}" for i, r in zip(meter_ids, meter_region)],
        "customer_id": meter_ids.copy(),
        "transformer_id": (meter_tx + 1).astype(np.int64),
        "meter_type": np.where(phases == 3, "three_phase_smart", "single_phase_smart"),
        "installed_at_unix_s": (start - rng.uniform(0.2, 10.0, n) * _YEAR_S).astype(np.int64),
    })
    customers = _customers(cfg, meter_ids, segment, params, rng)
    meter_parameters = pd.DataFrame({"meter_id": meter_ids, "region": meter_region.astype(np.int8),
                                     "segment": segment.astype(np.int8), **params})
    bounds = _chunk_bounds(tx_sizes, cfg.chunk_meters)
    feeders, tx_feeder = plan_feeders(cfg, substations, transformers, meters)
    transformers.insert(3, "feeder_id", tx_feeder)
    return Topology(substations, transformers, meters, customers, meter_parameters, bounds, feeders)


def _meter_parameters(cfg: FleetConfig, segment: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(segment)
    seg_daily = np.array([s.daily_kwh for s in SEGMENTS])[segment]
    solar_p = np.array([cfg.solar_share if s.solar_share is None else s.solar_share for s in SEGMENTS])[segment]
    ev_p = np.array([cfg.ev_share if s.ev_share is None else s.ev_share for s in SEGMENTS])[segment]
    has_solar = rng.random(n) < solar_p
    has_ev = rng.random(n) < ev_p
    battery = np.array([s.battery for s in SEGMENTS])[segment] & has_solar
    sigma = cfg.daily_scale_sigma
    return {
        "daily_kwh": seg_daily * rng.lognormal(-sigma**2 / 2, sigma, n),
        "solar_kw": np.where(has_solar, rng.choice([3.0, 5.0, 6.6, 8.0, 10.0], n, p=[0.15, 0.25, 0.35, 0.15, 0.10]), 0.0),
        "battery_kwh": np.where(battery, rng.choice([5.0, 10.0, 13.5], n), 0.0),
        "ev_kw": np.where(has_ev, rng.choice([3.6, 7.2], n, p=[0.35, 0.65]), 0.0),
        "phases": np.array([s.phases for s in SEGMENTS], dtype=np.int8)[segment],
        "power_factor": np.clip(np.array([s.power_factor for s in SEGMENTS])[segment] + rng.normal(0, 0.02, n), 0.82, 0.995),
        "service_line_ohm": rng.uniform(0.03, 0.15, n),  # drop in the customer's service line
    }


def _customers(cfg, ids, segment, params, rng) -> pd.DataFrame:
    n = len(ids)
    business = np.isin(segment, [SEGMENT_KEYS.index("early_morning_industrial"), SEGMENT_KEYS.index("business_hours_commercial")])
    tou_p = np.where(segment == SEGMENT_KEYS.index("efficiency_optimizers"), 0.7, 0.35)
    u = rng.random(n)
    tariff = np.where(business, np.where(u < 0.6, "demand", "time_of_use"),
                      np.where(u < tou_p, "time_of_use", np.where(u < tou_p + 0.05, "demand", "flat")))
    return pd.DataFrame({
        "customer_id": ids.copy(),
        # The retailer's account number, raw as an asset system holds it: the customer service keeps
        # only its keyed hash. The seed is in it, so fleets of other seeds are other customers.
        "account_number": [account_number(cfg.seed, i) for i in ids.tolist()],
        "segment": np.array(SEGMENT_KEYS, dtype=object)[segment],
        "tariff_type": tariff,
        "solar_installed": params["solar_kw"] > 0,
        "ev_charging": params["ev_kw"] > 0,
        "demand_response_opted_in": rng.random(n) < cfg.demand_response_share,
    })


def account_number(seed: int, customer_id: int) -> str:
    return f"AC{seed:03d}{customer_id:08d}"


def _chunk_bounds(tx_sizes: np.ndarray, chunk_meters: int) -> np.ndarray:
    ends = np.cumsum(tx_sizes)
    cuts = np.unique(np.searchsorted(ends, np.arange(chunk_meters, ends[-1], chunk_meters)))
    bounds = ends[cuts[cuts < len(ends) - 1]]
    return np.concatenate([[0], bounds, [ends[-1]]]).astype(np.int64)
