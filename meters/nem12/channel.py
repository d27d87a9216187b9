"""100 and 200 records: the file header and the data stream (channel) the 300 records belong to."""

from meters.nem12 import reasons
from meters.nem12.nemtime import BadDate, datetime_unix_s
from meters.nem12.records import Channel, Header
from meters.nem12.units import unit_of

ALLOWED_INTERVAL_MINUTES = (1, 5, 10, 15, 30, 60)  # MDFF allows 5, 15, 30; 1, 10 and 60 are seen in the wild
INTERVALS_PER_DAY = {1440 // m: m for m in ALLOWED_INTERVAL_MINUTES}  # 48 -> 30, ...
VERSIONS = ("NEM12", "NEM13")


def text(value: bytes) -> str:
    return value.decode(errors="replace").strip()


def header(fields: list[bytes]) -> tuple[Header, str | None]:
    """The 100 record and, when it is off, why (a reason code); a bad one still gives a Header."""
    get = [text(fields[i]) if i < len(fields) else "" for i in range(5)]
    version = get[1].upper()
    try:
        created = datetime_unix_s(fields[2]) if len(fields) > 2 else 0
    except BadDate:
        return Header(version or "NEM12", 0, get[3], get[4]), reasons.BAD_DATE
    problem = None if version in VERSIONS else reasons.UNKNOWN_VERSION
    return Header(version if version in VERSIONS else "NEM12", created, get[3], get[4]), problem


ASSUMED_HEADER = Header("NEM12", 0, "", "", assumed=True)


class ChannelError(ValueError):
    """A 200 record not accepted: every 300 under it is rejected with this reason."""

    def __init__(self, reason: str, message: str, fields: list[bytes], line: int, channel: Channel | None = None):
        super().__init__(message)
        self.reason, self.channel, self.line = reason, channel, line
        self.nmi = text(fields[1]) if len(fields) > 1 else ""
        self.suffix = text(fields[4]) if len(fields) > 4 else ""


def channel(fields: list[bytes], head: Header, line: int) -> Channel:
    """The 200 record. Raises ChannelError: MALFORMED_RECORD or BAD_INTERVAL_LENGTH (nothing under
    it can be timed), or UNKNOWN_UOM with the channel (its days can be recovered, unconverted)."""
    if len(fields) < 9:
        raise ChannelError(reasons.MALFORMED_RECORD, f"200 record has {len(fields)} fields, at least 9 needed",
                           fields, line)
    get = [text(f) for f in fields[1:10]] + [""] * max(0, 10 - len(fields))
    nmi, config, register, suffix, stream, serial, uom, length, next_read = get[:9]
    if not nmi or not suffix:
        raise ChannelError(reasons.MALFORMED_RECORD, "200 record without NMI or NMISuffix", fields, line)
    if not length.isdigit() or int(length) not in ALLOWED_INTERVAL_MINUTES:
        raise ChannelError(reasons.BAD_INTERVAL_LENGTH, f"200 IntervalLength {length!r} is not one of "
                           f"{', '.join(map(str, ALLOWED_INTERVAL_MINUTES))} minutes", fields, line)
    unit = unit_of(uom)
    made = Channel(nmi, config, register, suffix, stream, serial, uom, unit.canonical if unit else "", int(length),
                   next_read, head, line)
    if unit is None:
        raise ChannelError(reasons.UNKNOWN_UOM, f"200 UOM {uom!r} (line {line}) is not an MDFF unit of measure",
                           fields, line, made)
    return made

