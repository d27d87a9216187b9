"""Daily aggregates of a generated fleet, computed while streaming its chunks (bounded memory).

Per meter and NEM day (arrays meters x days): metered kWh (the register as read: signed net flow
if the fleet records it), readings present, std of the interval kWh (flat-lining), negative
readings and their kWh (reverse flow); per meter and hour its metered kWh (float32: the matched
filter of suspects.py needs each meter's load shape). Per transformer and hour: its telemetry
energy and the sum of its meters' readings. Memory is O(meters x hours), not readings
(10,000 meters x a year: 350 MB).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meters.fleet import FleetConfig, Topology, iter_fleet_chunks

HOUR_S = 3600


@dataclass
class FleetAggregates:
    meter_ids: np.ndarray  # (M,) int64, topology order
    transformer_ids: np.ndarray  # (M,) each meter's transformer
    kwh: np.ndarray  # (M, D) metered kWh per NEM day
    readings: np.ndarray  # (M, D) readings present
    interval_std_kwh: np.ndarray  # (M, D) std of the day's interval kWh
    negative_readings: np.ndarray  # (M, D) readings < 0
    negative_kwh: np.ndarray  # (M, D) sum of the negative readings (<= 0)
    hourly_kwh: np.ndarray  # (M, D * 24) float32 metered kWh per hour
    transformer_hours: pd.DataFrame  # transformer_id, hour_end_unix_s, energy_kwh, metered_kwh

    @property
    def days(self) -> int:
        return self.kwh.shape[1]

    def meter_days(self) -> pd.DataFrame:
        """The per meter-day arrays as one long frame (meter_id, transformer_id, day, ...)."""
        m, d = self.kwh.shape
        return pd.DataFrame({
            "meter_id": np.repeat(self.meter_ids, d), "transformer_id": np.repeat(self.transformer_ids, d),
            "day": np.tile(np.arange(d), m), "kwh": self.kwh.ravel(), "readings": self.readings.ravel(),
            "interval_std_kwh": self.interval_std_kwh.ravel(), "negative_readings": self.negative_readings.ravel(),
            "negative_kwh": self.negative_kwh.ravel(),
        })


def aggregate_fleet(cfg: FleetConfig, topo: Topology, thefts: pd.DataFrame | None = None,
                    outages: pd.DataFrame | None = None) -> FleetAggregates:
    """Stream every chunk of the fleet once. thefts / outages default to the planted ones."""
    meters = topo.meters
    n_m, n_t, days = len(meters), len(topo.transformers), cfg.days
    tx_of_meter = meters["transformer_id"].to_numpy()
    tx_ids = topo.transformers["transformer_id"].to_numpy()
    tx_row = np.searchsorted(tx_ids, tx_of_meter)
    kwh, cnt, sq, neg, neg_kwh = (np.zeros((days, n_m)) for _ in range(5))
    metered_h = np.zeros((n_t, days * 24))
    meter_h = np.zeros((n_m, days * 24), dtype=np.float32)
    energy_h = np.full((n_t, days * 24), np.nan)
    for fc in iter_fleet_chunks(cfg, topo, outages=outages, thefts=thefts):
        r, d = fc.readings, fc.readings.day
        row = r.meter_ids - 1  # meter ids run 1..N in topology order
        e = r.consumption_kwh
        kwh[d] += np.bincount(row, e, n_m)
        cnt[d] += np.bincount(row, None, n_m)
        sq[d] += np.bincount(row, e * e, n_m)
        below = e < 0
        neg[d] += np.bincount(row[below], None, n_m)
        neg_kwh[d] += np.bincount(row[below], e[below], n_m)
        hour = (r.reading_times_unix_s - 1 - cfg.start_unix_s) // HOUR_S - d * 24  # 0..23 within the day
        metered_h[:, d * 24:(d + 1) * 24] += np.bincount(tx_row[row] * 24 + hour, e, n_t * 24).reshape(n_t, 24)
        meter_h[:, d * 24:(d + 1) * 24] += np.bincount(row * 24 + hour, e, n_m * 24).reshape(n_m, 24)
        th = fc.transformer_hourly
        t_row = np.searchsorted(tx_ids, th["transformer_id"])
        energy_h[t_row, (th["hour_end_unix_s"] - 1 - cfg.start_unix_s) // HOUR_S] = th["energy_kwh"]
    mean = kwh / np.maximum(cnt, 1)
    std = np.sqrt(np.maximum(sq / np.maximum(cnt, 1) - mean**2, 0.0))
    hour_ends = cfg.start_unix_s + HOUR_S * (np.arange(days * 24) + 1)
    hours = pd.DataFrame({"transformer_id": np.repeat(tx_ids, days * 24), "hour_end_unix_s": np.tile(hour_ends, n_t),
                          "energy_kwh": energy_h.ravel(), "metered_kwh": metered_h.ravel()})
    return FleetAggregates(meters["meter_id"].to_numpy(), tx_of_meter, kwh.T.copy(), cnt.T.astype(np.int32),
                           std.T.copy(), neg.T.astype(np.int32), neg_kwh.T.copy(), meter_h, hours)
