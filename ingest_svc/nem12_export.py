"""Stored intervals of one NMI as a NEM12 file: what `meters export nem12` and ExportNem12 give.

Each interval keeps the quality the platform holds (A, or S / F / E with its method flag, and the
reason code); an interval with no stored reading is written N (null) with value 0, as a 300
record must hold every interval of its day. A day's UpdateDateTime is the latest version of its
intervals, so importing the export again changes nothing.
"""

import io
from collections.abc import Iterator

import numpy as np

from ingest_svc.store import MeterStore
from meters.errors import FieldViolation, invalid_argument, not_found
from meters.nem12 import channel_of, day_blocks, write_nem12
from meters.nem12.quality import split_quality

CHUNK_BYTES = 64 * 1024
PAGE = 10_000
EXPORT_INTERVALS = (5, 15, 30)


async def export_nem12(store: MeterStore, nmi: str, start_s: int, end_s: int, interval_minutes: int,
                       participant: str) -> Iterator[bytes]:
    """The NEM12 file's bytes in chunks (the whole file is built first: one NMI's days are small)."""
    interval_minutes = interval_minutes or 30
    bad = []
    if interval_minutes not in EXPORT_INTERVALS:
        bad.append(FieldViolation("interval_minutes", "must be 5, 15 or 30"))
    if end_s <= start_s:
        bad.append(FieldViolation("end_time_unix_s", "must be after start_time_unix_s"))
    if not nmi.strip():
        bad.append(FieldViolation("nmi", "is required"))
    if bad:
        raise invalid_argument("invalid export request", *bad)
    found = await store.meters_by_number([store.number_digest(nmi)])
    if not found:
        raise not_found("meter", "NMI " + store.number_digest(nmi)[:12])
    meter_id = next(iter(found.values()))
    ends, kwh, letters, flags, reasons, versions = [], [], [], [], [], []
    after = None
    while True:
        page = await store.list_readings(meter_id, start_s, end_s, after, PAGE)
        for r in page:
            letter, flag = split_quality(r.quality_method.encode() or b"A")
            ends.append(r.reading_time_unix_s)
            kwh.append(r.consumption_kwh)
            letters.append(letter)
            flags.append(flag)
            reasons.append(r.reason_code)
            versions.append(r.update_time_unix_s)
        if len(page) < PAGE:
            break
        after = page[-1].reading_time_unix_s
    out = io.BytesIO()
    write_nem12(out, _blocks(nmi.strip(), interval_minutes, np.array(ends, np.int64), np.array(kwh), letters,
                             flags, reasons, np.array(versions, np.int64)),
                # addressed to this platform itself, so the export imports back where METERS_NEM12_PARTICIPANT is set
                from_participant=participant or "METERS", to_participant=participant)
    data = out.getvalue()
    return (data[i:i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES))


def _blocks(nmi, interval_minutes, ends, kwh, letters, flags, reasons, versions):
    channel = channel_of(nmi, "E1", interval_minutes=interval_minutes)
    for block in day_blocks(channel, ends, kwh, quality=np.array(letters, "<U1"), method_flag=np.array(flags),
                            reason_code=np.array(reasons)):
        day = (ends > block.interval_end_unix_s[0] - 1) & (ends <= block.interval_end_unix_s[-1])
        block.update_time_unix_s = int(versions[day].max()) if day.any() else 0
        yield block
