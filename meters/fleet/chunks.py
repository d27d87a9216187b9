"""One chunk of the fleet: a block of whole transformers for one NEM day, fully vectorised.

Order of work: customer load (segment shape x temperature x noise) + EV - PV (+ battery)
-> net power -> transformer loading -> voltage -> planted anomalies -> current from
P = phases * V * I * pf -> rounding to meter resolution. Transformer telemetry and the
regional demand truth come from the same arrays, so they agree with the readings.
"""

from dataclasses import dataclass

import numpy as np

from meters.fleet.anomalies import ANOMALY_CODES, apply_value_anomalies, plant_episodes
from meters.fleet.calendar import REGIONS, RegionClock, interval_end_times
from meters.fleet.config import FleetConfig
from meters.fleet.events import EventEffects, event_effects
from meters.fleet.frequency import frequency_reporters, meter_frequency, plan_frequency_excursions, system_frequency
from meters.fleet.segments import SEGMENTS, shape_factors, temperature_factors

NOMINAL_V = 230.0
BUS_V = 242.0  # LV bus voltage at no load: Australian networks sit high in the 216-253 V band
TX_DROP_V = 9.0  # volts lost across a transformer at full load
DEGRADATION_DROP_V = 6.0  # volts lost at its meters at fault intensity 1 (a winding fault changes the ratio)
FAULT_SAG_RATE = 0.010  # extra sag starts per meter-interval at fault intensity 1 (x the cause's sag weight)
STRESS_SAG_RATE = 0.003  # ... per unit of extra (stress) load: motor starts of new connections, overload
SITE_TEMP_SIGMA_K, SITE_TEMP_AR = 1.5, 0.8  # unmeasured site temperature around the tank
LOSS_NOISE_SIGMA = 0.12  # losses come from an energy balance (in - out metering): noisy hour to hour
OIL_TIME_CONSTANT_H = 3.0  # ONAN top-oil time constant (IEEE C57.91 gives 2-4 h for distribution units)
LV_LOSS_AT_RATED = 0.03  # LV mains and service losses at the transformer's rated load, share of kVA (x K^2)
STUCK, REVERSE = ANOMALY_CODES["stuck_at_zero"], ANOMALY_CODES["reverse_flow"]
ABSENT = (ANOMALY_CODES["missing_interval"], ANOMALY_CODES["transformer_outage"], ANOMALY_CODES["supply_outage"])


@dataclass(frozen=True)
class ReadingChunk:
    """Readings of one chunk, time-ordered (then by meter). Missing intervals are absent rows."""

    meter_ids: np.ndarray  # int64
    reading_times_unix_s: np.ndarray  # int64, interval end, UTC
    consumption_kwh: np.ndarray  # float64, import register (signed net flow if cfg.signed_net_flow)
    demand_kw: np.ndarray  # float64, average power over the interval, same sign convention
    voltage_v: np.ndarray
    current_a: np.ndarray  # per phase, magnitude of the metered flow
    power_factor: np.ndarray
    frequency_hz: np.ndarray  # float64, NaN where the meter does not report it (meters/fleet/frequency.py)
    anomaly_type: np.ndarray  # uint8 truth, 0 = normal (see ANOMALY_CODES)
    day: int
    chunk: int

    def __len__(self) -> int:
        return len(self.meter_ids)


@dataclass(frozen=True)
class FleetChunk:
    readings: ReadingChunk
    missing: dict[str, np.ndarray]  # meter_id, reading_time_unix_s, anomaly_type of absent rows
    transformer_hourly: dict[str, np.ndarray]
    region_demand_kw: np.ndarray  # (regions, intervals): true net demand, this chunk's share


class DayContext:
    """Per-day values shared by every chunk of that day (per region x interval, tiny)."""

    def __init__(self, cfg: FleetConfig, day: int, weather: np.ndarray):
        self.day = day
        self.times = interval_end_times(cfg, day)
        self.clock = RegionClock(cfg, day, weather)
        shape = shape_factors(self.clock.local_hours, self.clock.weekend)
        temp = temperature_factors(self.clock.temp_c)
        # row = segment * regions + region
        self.profile = (shape * temp).reshape(len(SEGMENTS) * len(REGIONS), -1)
        # Continuous local hour of each interval midpoint (may exceed 24 or start below 0).
        nem_hours = (np.arange(len(self.times)) + 0.5) * cfg.interval_minutes / 60.0
        offsets = (self.clock.local_hours[:, :1] - nem_hours[:1] + 12.0) % 24.0 - 12.0
        self.local_continuous = nem_hours[None, :] + offsets
        # One system frequency at each interval end, shared by every meter and chunk of the day.
        self.frequency = system_frequency(cfg, day, self.times, plan_frequency_excursions(cfg))


def build_chunk(cfg: FleetConfig, topo, events, ctx: DayContext, chunk: int, bus_offsets: np.ndarray,
                supply=None, theft=None) -> FleetChunk:
    """supply: outages.SupplyPlan (who is off supply), theft: theft.TheftPlan (unmetered load)."""
    a, b = int(topo.chunk_bounds[chunk]), int(topo.chunk_bounds[chunk + 1])
    par = topo.meter_parameters.iloc[a:b]
    meter_tx = topo.meters["transformer_id"].to_numpy()[a:b] - 1
    tx_first = int(meter_tx[0])
    tx_local = meter_tx - tx_first
    n_tx = int(tx_local[-1]) + 1
    tx_starts = np.flatnonzero(np.r_[True, tx_local[1:] != tx_local[:-1]])
    region = par["region"].to_numpy()
    phases = par["phases"].to_numpy().astype(np.float64)[:, None]
    rng = np.random.default_rng([cfg.seed, 3, ctx.day, chunk])
    h = cfg.interval_minutes / 60.0
    M, T = b - a, len(ctx.times)

    # Customer load, kWh per interval.
    sigma = cfg.consumption_noise_sigma
    day_level = rng.lognormal(-(0.25**2) / 2, 0.25, M)  # day-to-day variation of a household
    noise = rng.standard_normal((M, T), dtype=np.float32)
    noise *= sigma
    noise -= sigma**2 / 2
    np.exp(noise, out=noise)
    base = ctx.profile[par["segment"].to_numpy().astype(np.int64) * len(REGIONS) + region]
    load = base * (par["daily_kwh"].to_numpy() * day_level / T)[:, None]
    load *= noise
    del noise, base
    load += _ev_energy(cfg, ctx, chunk, par["ev_kw"].to_numpy(), region, h)
    pv = _pv_energy(rng, ctx, par["solar_kw"].to_numpy(), region, h)
    net = load - pv
    if (par["battery_kwh"].to_numpy() > 0).any():
        net += _battery_shift(ctx, par["battery_kwh"].to_numpy(), region, load, pv)
    # Off supply: nothing flows for the seconds of an outage (outages.py); absent rows below.
    if supply is not None:
        off_s, failed_s = supply.off_seconds(a, b, ctx.times, cfg.interval_seconds)
    else:
        off_s = failed_s = np.zeros((M, T))
    on = 1.0 - np.minimum(off_s / cfg.interval_seconds, 1.0)
    net *= on
    # Theft: the premise draws `net`, its meter sees less (a bypass) or a flat line.
    active = theft.active(a, b, ctx.times) if theft is not None else None
    metered = net - (theft.share[a:b, None] * load * on * active) if active is not None else net
    del load, pv
    p_kw = net / h

    pf = np.clip(par["power_factor"].to_numpy()[:, None] - 0.06 * np.exp(-np.abs(p_kw) / 0.4)
                 + rng.normal(0.0, 0.01, (M, T)), 0.5, 1.0)

    # Transformer loading and the voltage it leaves at each meter.
    tx_rows = tx_first + np.arange(n_tx)
    cap = topo.transformers["capacity_kva"].to_numpy()[tx_rows][:, None]
    tx_p = np.add.reduceat(p_kw, tx_starts, axis=0)
    tx_q = np.add.reduceat(np.abs(p_kw) * np.sqrt(1.0 / pf**2 - 1.0), tx_starts, axis=0)
    mid_times = ctx.times - cfg.interval_seconds // 2
    fx = event_effects(events, tx_rows, mid_times)
    tx_s = np.hypot(tx_p, tx_q)
    sub = topo.transformers["substation_id"].to_numpy()[tx_rows] - 1
    tx_region = region[tx_starts]
    bus = BUS_V + bus_offsets[sub][:, None] + 2.0 * np.cos(2 * np.pi * (ctx.clock.local_hours[tx_region] - 3.0) / 24.0)
    # Stress load (customers it does not meter) loads the unit like its own; a fault drops the voltage.
    tx_v = bus - TX_DROP_V * (tx_p * (1.0 + fx.extra_load)) / cap - DEGRADATION_DROP_V * fx.voltage_drop
    line_drop = par["service_line_ohm"].to_numpy()[:, None] * p_kw * 1000.0 / (phases * NOMINAL_V)
    voltage = tx_v[tx_local] - line_drop + rng.normal(0.0, cfg.voltage_noise_v, (M, T))

    # Planted anomalies: more sags under faulting transformers (and a few under stressed ones).
    extra = (FAULT_SAG_RATE * fx.sag + STRESS_SAG_RATE * fx.extra_load)[tx_local] if fx.any else None
    code = plant_episodes(cfg, rng, (M, T), extra)
    # Off supply for at least half an interval: no reading (a failure's own code, else supply_outage).
    half = cfg.interval_seconds / 2
    code[off_s >= half] = ANOMALY_CODES["supply_outage"]
    code[failed_s >= half] = ANOMALY_CODES["transformer_outage"]
    # The meter's register: import only unless signed net flow was asked for. Voltage above
    # used the true net flow (export raises the local voltage either way).
    energy = metered.copy() if cfg.signed_net_flow else np.maximum(metered, 0.0)
    if active is not None:
        flat = active & (theft.flat_kwh[a:b, None] > 0)
        energy[flat] = np.broadcast_to(theft.flat_kwh[a:b, None], flat.shape)[flat]
    apply_value_anomalies(code, rng, energy, voltage, pf)
    # Reversed meter or tamper: the true flow is recorded with the wrong sign.
    reverse = code == REVERSE
    energy[reverse] = -metered[reverse] if cfg.signed_net_flow else -np.abs(metered[reverse])
    current = np.abs(energy) / h * 1000.0 / (phases * voltage * pf)
    current *= 1.0 + rng.normal(0.0, cfg.measurement_noise, (M, T))
    energy[code == STUCK] = 0.0

    region_demand = np.zeros((len(REGIONS), T))
    for r in np.unique(region):  # at most five regions
        region_demand[r] = p_kw[region == r].sum(axis=0)

    meter_ids = par["meter_id"].to_numpy()
    # Its own generator: adding frequency left every other value of the fleet as it was.
    hz = meter_frequency(np.random.default_rng([cfg.seed, 37, ctx.day, chunk]), ctx.frequency,
                         frequency_reporters(cfg, meter_ids))
    readings, missing = _to_rows(cfg, ctx, chunk, meter_ids, code, energy, voltage, current, pf, hz, h)
    energised = np.maximum.reduceat(on, tx_starts, axis=0)  # a transformer is live while any of its meters is
    hourly = _transformer_hourly(cfg, ctx, topo, tx_rows, tx_region, tx_s, tx_p, cap, fx, energised)
    return FleetChunk(readings, missing, hourly, region_demand)


def _ev_energy(cfg, ctx, chunk, ev_kw, region, h) -> np.ndarray:
    """Evening charging sessions, including the spill-over of yesterday's session past midnight."""
    out = np.zeros((len(ev_kw), len(ctx.times)))
    has = np.flatnonzero(ev_kw > 0)
    if len(has) == 0:
        return out
    local = ctx.local_continuous[region[has]]
    for day, shift in ((ctx.day, 0.0), (ctx.day - 1, -24.0)):
        rng = np.random.default_rng([cfg.seed, 5, day + 1, chunk])  # same draws whichever day asks (day -1 ok)
        charges = rng.random(len(has)) < 0.6
        start = np.clip(rng.normal(20.5, 1.3, len(has)), 17.0, 23.75) + shift
        hours = rng.uniform(6.0, 22.0, len(has)) / ev_kw[has]
        on = (local >= start[:, None]) & (local < (start + hours)[:, None]) & charges[:, None]
        out[has] += on * (ev_kw[has] * h)[:, None]
    return out


def _pv_energy(rng, ctx, solar_kw, region, h) -> np.ndarray:
    has = np.flatnonzero(solar_kw > 0)
    out = np.zeros((len(solar_kw), len(ctx.times)))
    if len(has):
        passing_cloud = np.clip(rng.normal(1.0, 0.12, (len(has), len(ctx.times))), 0.3, 1.15)
        out[has] = (solar_kw[has] * 0.8 * h)[:, None] * ctx.clock.sun[region[has]] * passing_cloud
    return out


def _battery_shift(ctx, battery_kwh, region, load, pv) -> np.ndarray:
    """Change to net import from a home battery: + charging from midday surplus, - discharging in the evening."""
    shift = np.zeros(load.shape)
    has = np.flatnonzero(battery_kwh > 0)
    surplus = np.maximum(pv[has] - load[has], 0.0)
    stored = np.minimum(0.9 * surplus.sum(axis=1), battery_kwh[has])
    total = surplus.sum(axis=1)
    charge = surplus * np.divide(stored, total, out=np.zeros_like(total), where=total > 0)[:, None]
    hour = ctx.local_continuous[region[has]] % 24.0
    evening = load[has] * ((hour >= 16.0) | (hour < 1.0))
    weights = evening / np.maximum(evening.sum(axis=1, keepdims=True), 1e-9)
    discharge = np.minimum(weights * (0.9 * stored)[:, None], load[has])
    shift[has] = charge - discharge
    return shift


def _to_rows(cfg, ctx, chunk, meter_ids, code, energy, voltage, current, pf, hz, h):
    """(meter, interval) grids -> time-ordered rows at meter resolution, absent rows split off."""
    codes_t = code.T
    keep = ~np.isin(codes_t, ABSENT)
    M, T = code.shape
    ids = np.broadcast_to(meter_ids[None, :], (T, M))
    times = np.broadcast_to(ctx.times[:, None], (T, M))
    kwh = np.round(energy.T[keep], 3)
    readings = ReadingChunk(
        meter_ids=ids[keep],
        reading_times_unix_s=times[keep],
        consumption_kwh=kwh,
        demand_kw=np.round(kwh / h, 3),
        voltage_v=np.round(voltage.T[keep], 1),
        current_a=np.round(current.T[keep], 2),
        power_factor=np.round(pf.T[keep], 3),
        frequency_hz=hz.T[keep],
        anomaly_type=codes_t[keep],
        day=ctx.day,
        chunk=chunk,
    )
    gone = ~keep
    missing = {"meter_id": ids[gone], "reading_time_unix_s": times[gone], "anomaly_type": codes_t[gone]}
    return readings, missing


def unit_parameters(cfg: FleetConfig, topo, tx_rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per-transformer nameplate physics (fixed for the run): no-load and load loss (share of kVA),
    rated top-oil rise and hot-spot-over-oil rise (K). Units differ; older ones lose more."""
    rng = np.random.default_rng([cfg.seed, 7])
    n = len(topo.transformers)
    age = topo.transformers["age_years"].to_numpy()
    p = {
        "no_load": rng.uniform(0.0018, 0.0032, n) * (1.0 + 0.01 * age),
        "load": rng.uniform(0.009, 0.015, n),
        "oil_rise": rng.uniform(38.0, 55.0, n),
        "hotspot_rise": rng.uniform(14.0, 24.0, n),
    }
    return {k: v[tx_rows][:, None] for k, v in p.items()}


def _transformer_hourly(cfg, ctx, topo, tx_rows, tx_region, tx_s, tx_p, cap, fx: EventEffects, energised):
    """Hourly transformer telemetry from an IEEE C57.91-style thermal model (docs/fleet.md).

    Losses = no-load x (1 + fault loss) + load loss x K^2 x fault factor; top-oil rise = rated
    rise x (losses / rated losses)^0.8 x cooling impairment, lagging with a 3 h time constant;
    hot spot = oil + rated gradient x K^1.6 + fault hot spot. Stress load and site heat enter
    only through K and ambient, so the model explains them; a fault's losses and heat it does not.
    energy_kwh is the energy into the transformer over the hour (signed: negative = net export):
    its meters' true net energy (theft included), stress load it does not meter, its losses
    while energised and the LV network's I^2R losses (LV_LOSS_AT_RATED x K^2).
    """
    per_hour = 60 // cfg.interval_minutes
    n_tx, T = tx_s.shape
    hours = T // per_hour

    def hourly(x):
        return x.reshape(n_tx, hours, per_hour).mean(axis=2)

    out_h = hourly(fx.outage.astype(np.float64)) > 0
    s_total = tx_s * (1.0 + fx.extra_load)
    load_kva = np.where(out_h, 0.0, hourly(s_total))
    peak_kva = np.where(out_h, 0.0, s_total.reshape(n_tx, hours, per_hour).max(axis=2))
    util = load_kva / cap
    k2 = hourly((s_total / cap) ** 2)
    p_h = hourly(np.abs(tx_p) * (1.0 + fx.extra_load))
    ambient = hourly(ctx.clock.temp_c[tx_region] + fx.ambient_excess)
    unit = unit_parameters(cfg, topo, tx_rows)
    rng = np.random.default_rng([cfg.seed, 6, ctx.day, int(tx_rows[0])])
    rated = unit["no_load"] + unit["load"]
    loss_share = unit["no_load"] * (1.0 + hourly(fx.extra_loss)) + unit["load"] * k2 * hourly(fx.load_loss_factor)
    # The tank's own temperature swings the weather station does not see (sun on the tank, wind):
    # AR(1), 1.5 K, hour to hour. Heating a model cannot explain from load and ambient, in healthy units too.
    site = np.empty_like(util)
    site[:, 0] = rng.normal(0.0, SITE_TEMP_SIGMA_K, n_tx)
    shocks = rng.normal(0.0, SITE_TEMP_SIGMA_K * np.sqrt(1.0 - SITE_TEMP_AR**2), util.shape)
    for j in range(1, hours):
        site[:, j] = SITE_TEMP_AR * site[:, j - 1] + shocks[:, j]
    oil_ss = ambient + site + unit["oil_rise"] * (loss_share / rated) ** 0.8 * hourly(fx.cooling)
    oil = np.empty_like(oil_ss)
    oil[:, 0] = oil_ss[:, 0]
    a = 1.0 - np.exp(-1.0 / OIL_TIME_CONSTANT_H)
    for j in range(1, hours):  # 24 steps, vectorised over transformers
        oil[:, j] = oil[:, j - 1] + a * (oil_ss[:, j] - oil[:, j - 1])
    sensor = rng.normal(0.0, 0.6, (n_tx, 1))  # the day's sensor offset
    oil = oil + sensor + rng.normal(0.0, 0.7, util.shape)
    winding = (oil + unit["hotspot_rise"] * k2**0.8 * hourly(fx.load_loss_factor) ** 0.8
               + hourly(fx.hotspot_k) + rng.normal(0.0, 0.5, util.shape))
    losses = cap * loss_share * rng.lognormal(0.0, LOSS_NOISE_SIGMA, util.shape)  # energy-balance measurement noise
    efficiency = np.where(out_h | (p_h <= 0), np.nan, p_h / (p_h + losses))
    lv_loss = LV_LOSS_AT_RATED * cap * (s_total / cap) ** 2
    energy = hourly(tx_p * (1.0 + fx.extra_load) + lv_loss) + losses * hourly(energised)
    hour_ends = ctx.times[per_hour - 1 :: per_hour]
    tx_ids = topo.transformers["transformer_id"].to_numpy()[tx_rows]
    return {
        "transformer_id": np.repeat(tx_ids, hours),
        "hour_end_unix_s": np.tile(hour_ends, n_tx),
        "load_kva": np.round(load_kva, 2).ravel(),
        "peak_load_kva": np.round(peak_kva, 2).ravel(),
        "load_utilization": np.round(util, 4).ravel(),
        "ambient_temp_c": np.round(ambient, 1).ravel(),
        "oil_temp_c": np.round(np.where(out_h, ambient, oil), 1).ravel(),
        "winding_temp_c": np.round(np.where(out_h, ambient, winding), 1).ravel(),
        "efficiency": np.round(efficiency, 5).ravel(),
        "in_service": ~out_h.ravel(),
        "energy_kwh": np.round(energy, 3).ravel(),
    }
