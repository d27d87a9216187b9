"""What the parser yields: typed records of an MDFF (NEM12 / NEM13) file, times in UTC Unix seconds.

A Block is one 300 record (one NEM day of one NMI suffix) with its 400s applied; an
AccumulationRead is one NEM13 250 record; a Problem is a record the parser could not accept, with
its file, line and a stable reason code (meters.nem12.reasons) and, where the record held intervals,
those intervals as recovered (``block``) so a caller can keep each rejected interval with its reason.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Header:
    """The 100 record. ``assumed`` when the file had none (NEM12 is assumed then)."""

    version: str  # NEM12 or NEM13
    created_unix_s: int
    from_participant: str
    to_participant: str
    assumed: bool = False


@dataclass(frozen=True, slots=True)
class DataStream:
    """Which register of which meter: the fields 200 (NEM12) and 250 (NEM13) records begin with."""

    nmi: str
    nmi_configuration: str
    register_id: str
    suffix: str  # NMI suffix: E1 import, B1 export, Q1 / K1 reactive, 11 / 41 accumulation registers ...
    mdm_stream: str
    meter_serial: str


@dataclass(frozen=True, slots=True)
class Channel(DataStream):
    """A 200 record: one data stream (NMI suffix) of one NMI, shared by the Blocks under it."""

    uom: str  # as in the file
    unit: str  # canonical unit the values are converted to ("" when the UOM is unknown)
    interval_minutes: int
    next_scheduled_read: str  # Date8 as in the file, "" when absent
    header: Header
    line: int


@dataclass(frozen=True, slots=True)
class B2B:
    """A 500 (NEM12) or 550 (NEM13) record: the B2B transaction behind a read."""

    record: str
    fields: tuple[str, ...]


@dataclass(slots=True)
class Block:
    """One 300 record: a NEM day of one channel. Arrays have one entry per interval.

    quality holds one-letter quality methods (A S F E N V; V never survives: the 400 records
    replace it), method_flag the substitution / estimation method (0 = none), reason_code the
    reason (0 = none), all after the 400 records were applied to their interval ranges. Days of one
    quality share those three arrays, read-only: copy before changing them. ``values`` of
    consecutive days may be rows of one array (views).
    """

    channel: Channel
    interval_date: str  # Date8, NEM time
    interval_end_unix_s: np.ndarray  # int64, UTC seconds of each interval's end
    values: np.ndarray  # float64, in channel.unit
    quality: np.ndarray  # <U1
    method_flag: np.ndarray  # int16
    reason_code: np.ndarray  # int16
    reason_description: str
    update_time_unix_s: int  # UpdateDateTime in UTC, 0 when absent
    msats_load_time_unix_s: int  # 0 when absent
    line: int
    b2b: list[B2B] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)

    nmi = property(lambda self: self.channel.nmi)
    suffix = property(lambda self: self.channel.suffix)
    register_id = property(lambda self: self.channel.register_id)
    meter_serial = property(lambda self: self.channel.meter_serial)
    uom = property(lambda self: self.channel.uom)
    unit = property(lambda self: self.channel.unit)
    interval_minutes = property(lambda self: self.channel.interval_minutes)
    header = property(lambda self: self.channel.header)


@dataclass(frozen=True, slots=True)
class Reading:
    """One side (previous or current) of a NEM13 accumulation read."""

    register_read: float  # in the canonical unit
    read_unix_s: int
    quality: str  # one letter
    method_flag: int
    reason_code: int
    reason_description: str


@dataclass(frozen=True, slots=True)
class AccumulationRead(DataStream):
    """A NEM13 250 record: consumption between two reads of an accumulation register."""

    direction: str  # I import, E export
    previous: Reading
    current: Reading
    quantity: float  # consumption between the reads, in the canonical unit
    uom: str
    unit: str
    next_scheduled_read: str
    update_time_unix_s: int
    msats_load_time_unix_s: int
    header: Header
    line: int
    b2b: list[B2B] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Problem:
    """A record the parser did not accept, or a note about the file.

    ``intervals`` counts the intervals the record held that are rejected with it (0 for notes
    such as TRUNCATED_FILE or MISSING_HEADER, which reject nothing by themselves); ``block`` holds
    them as far as they could be recovered: times, values (NaN where unreadable), quality.
    """

    file: str
    line: int
    record: str  # record indicator as in the file ("300", "400", ...), "" for file-level problems
    reason: str  # stable UPPER_SNAKE code, meters.nem12.reasons
    message: str
    nmi: str = ""
    suffix: str = ""
    intervals: int = 0
    block: Block | None = None
