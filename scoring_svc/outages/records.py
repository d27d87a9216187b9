"""What the detector emits: an outage opened, an outage closed; and the output table's columns."""

from dataclasses import dataclass

import numpy as np

# truth/outages.parquet's columns, then the detector's own.
OUTAGE_COLUMNS = ("outage_id", "level", "asset_id", "region", "substation_id", "feeder_id", "transformer_id",
                  "started_unix_s", "restored_unix_s", "customers_affected", "planned", "announced_unix_s",
                  "momentary", "cause")
DETECTOR_COLUMNS = ("detected_from", "opened_unix_s", "closed_unix_s", "last_gasp_unix_s")


@dataclass(frozen=True)
class OutageOpened:
    outage_id: int
    level: str  # meter | transformer | feeder
    asset_id: int
    started_unix_s: int
    customers_affected: int
    planned: bool
    detected_from: str  # last_gasp | last_gasp+no_restore | last_gasp+readings_absent | readings_absent
    opened_unix_s: float  # the detector's clock when it decided
    last_gasp_unix_s: float  # latest last gasp of the outage's meters before opening (NaN: none)


@dataclass(frozen=True)
class OutageClosed:
    outage_id: int
    restored_unix_s: int
    momentary: bool
    restored_from: str  # power_on | readings
    closed_unix_s: float


@dataclass
class ActiveOutage:
    """An open outage: its meters and the restore time each has shown so far."""

    opened: OutageOpened
    meters: np.ndarray
    restore_s: dict  # meter_id -> estimated restore time (unix s)
    restored_from: set
    close_due: float | None = None
