"""The synthetic fleet as the customer service sees it: customers (with region) and hourly
usage, plus the planted segment kept apart as truth for evaluation only."""

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from customer_svc.hourly import HourlyUsage, aggregate, concat
from customer_svc.profiles import DailyProfiles, build_profiles
from customer_svc.weather import local_grid
from meters.fleet.weather import hourly_temperature
from meters.fleet import FleetConfig, generate_topology, iter_reading_chunks
from meters.fleet.calendar import REGIONS


@dataclass(frozen=True)
class FleetCustomers:
    customers: pd.DataFrame  # customer_id, account_number, tariff_type, ..., region, meter_id
    usage: HourlyUsage
    truth: np.ndarray  # planted segment key per customer row (never an input to the model)
    cfg: FleetConfig

    def profiles(self) -> DailyProfiles:
        idx = np.searchsorted(self.customers["meter_id"].to_numpy(), self.usage.meter_ids)
        regions = list(self.customers["region"])
        p = build_profiles(idx, self.usage.hour_start_unix_s, self.usage.kwh, self.usage.max_kw,
                           regions, self.cfg.start_unix_s, self.cfg.days)
        temp = local_grid(sorted(set(regions)), *hourly_temperature(self.cfg), self.cfg.start_unix_s, self.cfg.days)
        return replace(p, temp_c=temp)


def load_fleet(cfg: FleetConfig, progress=None) -> FleetCustomers:
    topo = generate_topology(cfg)
    parts = []
    for chunk in iter_reading_chunks(cfg, topo):
        ok = chunk.consumption_kwh >= 0  # ingest rejects negative (reverse-flow) readings: the service never sees them
        parts.append(aggregate(chunk.meter_ids[ok], chunk.reading_times_unix_s[ok], chunk.consumption_kwh[ok],
                               chunk.demand_kw[ok]))
        if progress:
            progress(len(chunk))
    usage = concat(parts)
    customers = topo.customers.copy()
    customers["meter_id"] = topo.meters["meter_id"].to_numpy()
    customers["region"] = np.array(REGIONS)[topo.meter_parameters["region"].to_numpy()]
    truth = customers.pop("segment").to_numpy()
    return FleetCustomers(customers, usage, truth, cfg)
