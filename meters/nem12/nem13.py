"""NEM13 250 records: one accumulation (basic meter) read, previous and current register reads."""

from meters.nem12 import reasons
from meters.nem12.nemtime import datetime_unix_s
from meters.nem12.quality import reason_code, split_quality
from meters.nem12.records import AccumulationRead, Header, Reading
from meters.nem12.units import scale, unit_of

FIELDS_250 = 20  # up to UOM; NextScheduledReadDate, UpdateDateTime and MSATSLoadDateTime may be absent


class BadRecord(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _text(value: bytes) -> str:
    return value.decode(errors="replace").strip()


def _reading(fields: list[bytes], at: int, unit) -> Reading:
    """Register read, date-time, quality method, reason code, description from fields[at:at+5]."""
    letter, flag = split_quality(fields[at + 2])
    return Reading(register_read=float(scale(float(fields[at]), unit)), read_unix_s=datetime_unix_s(fields[at + 1]),
                   quality=letter, method_flag=flag, reason_code=reason_code(fields[at + 3]),
                   reason_description=_text(fields[at + 4]))


def accumulation_read(fields: list[bytes], header: Header, line: int) -> AccumulationRead:
    """A 250 record; raises BadRecord (with a reason code), BadDate, BadQuality or ValueError."""
    if len(fields) < FIELDS_250:
        raise BadRecord(reasons.MALFORMED_RECORD, f"250 record has {len(fields)} fields, at least {FIELDS_250} needed")
    uom = _text(fields[19])
    unit = unit_of(uom)
    if unit is None:
        raise BadRecord(reasons.UNKNOWN_UOM, f"250 record UOM {uom!r} is not an MDFF unit of measure")
    optional = [fields[i] if i < len(fields) else b"" for i in (20, 21, 22)]
    return AccumulationRead(
        nmi=_text(fields[1]), nmi_configuration=_text(fields[2]), register_id=_text(fields[3]),
        suffix=_text(fields[4]), mdm_stream=_text(fields[5]), meter_serial=_text(fields[6]),
        direction=_text(fields[7]), previous=_reading(fields, 8, unit), current=_reading(fields, 13, unit),
        quantity=float(scale(float(fields[18]), unit)), uom=uom, unit=unit.canonical,
        next_scheduled_read=_text(optional[0]), update_time_unix_s=datetime_unix_s(optional[1]),
        msats_load_time_unix_s=datetime_unix_s(optional[2]), header=header, line=line)
