"""FleetConfig: every size, rate and mix of the synthetic fleet in one place.

The same FleetConfig (including seed and chunk_meters) always produces the
same bytes; randomness is keyed by (seed, stream name, day, chunk) so a chunk
can be regenerated without generating the ones before it.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

# NEM time: AEMO settles in Australian Eastern Standard Time all year (no DST).
NEM_TZ = timezone(timedelta(hours=10))


@dataclass(frozen=True)
class OutageRates:
    """Planted supply interruptions (outages.py, docs/fleet.md "Outages"). Per-year rates are
    scaled to the run's length; per category tuples are (urban, short rural, long rural) feeders."""

    feeder_sustained_per_year: tuple[float, float, float] = (0.4, 0.9, 1.8)
    feeder_momentary_per_year: tuple[float, float, float] = (2.0, 6.0, 10.0)
    feeder_planned_per_year: float = 0.2
    transformer_unplanned_per_year: float = 0.03
    transformer_planned_per_year: float = 0.12
    premise_per_year: float = 0.03
    storm_days_per_year: tuple[int, int] = (2, 4)
    # On a storm day in the storm's region: probability per feeder (by category) of a sustained
    # outage and of a momentary one, and per transformer of its own outage.
    storm_feeder_p: tuple[float, float, float] = (0.50, 0.70, 0.80)
    storm_momentary_p: float = 0.5
    storm_transformer_p: float = 0.02
    scale: float = 1.0  # multiplies every rate and probability (tests plant more)


@dataclass(frozen=True)
class FleetConfig:
    meters: int = 1_000
    days: int = 7
    seed: int = 42
    interval_minutes: int = 15  # 15 or 30
    # First interval starts here (NEM time); stored times are interval END times, UTC unix seconds.
    start: datetime = datetime(2026, 1, 5, 0, 0, tzinfo=NEM_TZ)

    # Chunking: whole transformers, about this many meters, one NEM day per chunk.
    chunk_meters: int = 50_000

    # Network shape (Australian distribution network, NEM regions).
    region_shares: dict[str, float] = field(
        default_factory=lambda: {"NSW": 0.36, "VIC": 0.30, "QLD": 0.22, "SA": 0.09, "TAS": 0.03}
    )
    customers_per_transformer_range: tuple[int, int] = (25, 40)
    meters_per_substation: int = 3_000

    # What consumption_kwh/demand_kw record for solar homes. False: the import register
    # (>= 0; exported energy reads 0, as SGSC's general-supply channel does, and as
    # ingest validation expects). True: signed net flow (negative = export).
    signed_net_flow: bool = False

    # Customer attributes beyond the segment (segment-specific overrides live in segments.py).
    solar_share: float = 0.28  # rooftop PV on ~30 % of Australian houses
    ev_share: float = 0.03  # EVs outside the ev_charging_households segment
    demand_response_share: float = 0.15

    # Meter anomalies, as the expected share of all readings (sum ~1 %, the plan's contamination).
    anomaly_rates: dict[str, float] = field(
        default_factory=lambda: {
            "voltage_sag": 0.0020,
            "voltage_swell": 0.0015,
            "power_factor_collapse": 0.0015,
            "consumption_spike": 0.0015,
            "stuck_at_zero": 0.0020,
            "reverse_flow": 0.0010,
            "missing_interval": 0.0005,
        }
    )

    # Transformer events, as the probability per transformer per simulated week.
    failure_rate_per_week: float = 0.004
    degradation_only_rate_per_week: float = 0.004
    degradation_lead_hours: tuple[float, float] = (48.0, 72.0)
    outage_hours: tuple[float, float] = (2.0, 12.0)
    fault_severity_sigma: float = 0.6  # lognormal spread of incipient-fault intensity (faint ones stay hard)

    # Supply interruptions at meter, transformer and feeder level, planned work and storm days.
    outage_rates: OutageRates = field(default_factory=OutageRates)

    # Noise.
    consumption_noise_sigma: float = 0.85  # lognormal, per interval (SGSC half-hours are spiky)
    daily_scale_sigma: float = 0.40  # lognormal, per customer
    voltage_noise_v: float = 0.8
    measurement_noise: float = 0.005  # relative, on current

    def __post_init__(self) -> None:
        if self.interval_minutes not in (15, 30):
            raise ValueError("interval_minutes must be 15 or 30")
        if self.meters < 1 or self.days < 1:
            raise ValueError("meters and days must be positive")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")

    @property
    def intervals_per_day(self) -> int:
        return 24 * 60 // self.interval_minutes

    @property
    def interval_seconds(self) -> int:
        return self.interval_minutes * 60

    @property
    def start_unix_s(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_unix_s(self) -> int:
        return self.start_unix_s + self.days * 86_400

    def to_dict(self) -> dict:
        d = asdict(self)
        d["start"] = self.start.isoformat()
        return d
