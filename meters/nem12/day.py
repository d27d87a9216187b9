"""300 and 400 records: one NEM day of interval values, and the quality of its interval ranges.

The common record (a whole day of one quality) costs one split, its values (values.py) and a
Block over shared read-only quality arrays; everything unusual (a wrong value count, an unreadable
value, a V day's 400s) takes a slower path that recovers what it can, so a rejected day still
carries its intervals.
"""

import dataclasses
from functools import lru_cache

import numpy as np

from meters.nem12 import reasons
from meters.nem12.channel import INTERVALS_PER_DAY, text
from meters.nem12.nemtime import BadDate, datetime_unix_s, day_start_unix_s, interval_end_offsets_s
from meters.nem12.quality import BadQuality, reason_code, split_quality
from meters.nem12.records import Block, Channel
from meters.nem12.units import Unit
from meters.nem12.values import read_values, regular, value_count

TRAILER_FIELDS = 4  # QualityMethod, ReasonCode, ReasonDescription, UpdateDateTime (MSATSLoadDateTime optional)


class DayError(ValueError):
    """Why a 300 / 400 was not accepted; ``block`` is the day as recovered (None when it has no times)."""

    def __init__(self, reason: str, message: str, block: Block | None = None, intervals: int = 0):
        super().__init__(message)
        self.reason, self.message, self.block = reason, message, block
        self.intervals = len(block) if block is not None else intervals
        self.line, self.record = 0, ""  # where it was found, set by the reader

    def at(self, line: int, record: str) -> "DayError":
        self.line, self.record = line, record
        return self


@lru_cache(maxsize=256)
def _uniform(n: int, letter: str, flag: int, reason: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quality, method and reason arrays of a day of one quality: shared between Blocks, so read-only
    (a 400 record copies them before writing, see apply_range)."""
    arrays = np.full(n, letter, dtype="<U1"), np.full(n, flag, dtype=np.int16), np.full(n, reason, dtype=np.int16)
    for a in arrays:
        a.setflags(write=False)
    return arrays


def interval_day(fields: list[bytes], channel: Channel, unit: Unit | None, line: int,
                 parsed: np.ndarray | None = None) -> tuple[Block, bool, bool]:
    """(block, is_variable, lacks_optional_fields) of a 300 record; raises DayError.
    ``unit`` None: the channel's UOM is unknown, the day is recovered unconverted and rejected.
    ``parsed``: the record's values, already read and converted (values.run_values)."""
    minutes = channel.interval_minutes
    n = 1440 // minutes
    count = n if parsed is not None or regular(fields, n) else value_count(fields)
    try:
        day_start = day_start_unix_s(fields[1].strip())
    except (BadDate, IndexError) as e:
        raise DayError(reasons.BAD_DATE, f"300 IntervalDate: {e}", intervals=count) from None
    date8 = fields[1].strip().decode()
    values, bad = (parsed, []) if parsed is not None else read_values(fields[2:2 + count], unit)
    tail = fields[2 + count:]
    error = None
    try:
        letter, flag = split_quality(tail[0]) if tail and tail[0].strip() else ("", 0)
        reason = reason_code(tail[1]) if len(tail) > 1 else 0
    except BadQuality as e:
        letter, flag, reason, error = "", 0, 0, (reasons.BAD_QUALITY, f"300 {e}")
    if not letter and error is None:
        error = (reasons.BAD_QUALITY, "300 record without a QualityMethod")
    try:
        update = datetime_unix_s(tail[3]) if len(tail) > 3 else 0
        msats = datetime_unix_s(tail[4]) if len(tail) > 4 else 0
    except BadDate as e:
        update = msats = 0
        error = error or (reasons.BAD_DATE, f"300 UpdateDateTime / MSATSLoadDateTime: {e}")
    if count != n:
        recovered_minutes = INTERVALS_PER_DAY.get(count)
        if recovered_minutes:  # the values fit another interval length: keep them, timed by it
            channel, n = dataclasses.replace(channel, interval_minutes=recovered_minutes), count
            error = (reasons.INTERVAL_LENGTH_MISMATCH, f"300 record has {count} values, a day of "
                     f"{recovered_minutes}-minute intervals, but its 200 says {minutes} minutes "
                     f"({1440 // minutes} values)")
        else:
            error = (reasons.INTERVAL_COUNT_MISMATCH, f"300 record has {count} values, a day of "
                     f"{minutes}-minute intervals has {1440 // minutes}")
            values = np.full(n, np.nan)
    elif bad:
        error = error or (reasons.BAD_VALUE, f"300 interval value(s) not a finite number at interval(s) "
                          f"{', '.join(str(i + 1) for i in bad[:5])}{' ...' if len(bad) > 5 else ''}")
    quality, method, reason_codes = _uniform(n, letter, flag, reason)
    block = Block(channel, date8, interval_end_offsets_s(channel.interval_minutes) + day_start, values, quality,
                  method, reason_codes, text(tail[2]) if len(tail) > 2 else "", update, msats, line)
    if unit is None and error is None:
        error = (reasons.UNKNOWN_UOM, f"values of channel {channel.suffix} have UOM {channel.uom!r}, "
                 "not an MDFF unit of measure: kept unconverted")
    if error:
        raise DayError(error[0], error[1], block)
    return block, letter == "V", len(tail) < TRAILER_FIELDS


def apply_range(block: Block, fields: list[bytes]) -> None:
    """A 400 record: quality, method flag and reason code of intervals StartInterval..EndInterval."""
    if len(fields) < 4:
        raise DayError(reasons.MALFORMED_RECORD, f"400 record has {len(fields)} fields, at least 4 needed")
    first, last = fields[1].strip(), fields[2].strip()
    if not (first.isdigit() and last.isdigit()):
        raise DayError(reasons.MALFORMED_RECORD, "400 StartInterval / EndInterval not whole numbers")
    first, last, n = int(first), int(last), len(block)
    try:
        letter, flag = split_quality(fields[3])
        reason = reason_code(fields[4]) if len(fields) > 4 else 0
    except BadQuality as e:
        raise DayError(reasons.BAD_QUALITY, f"400 {e}") from None
    if letter == "V":
        raise DayError(reasons.BAD_QUALITY, "400 QualityMethod V: a range must have one quality")
    if not 1 <= first <= last <= n:
        reason_code_ = reasons.INTERVAL_LENGTH_MISMATCH if last in INTERVALS_PER_DAY else reasons.QUALITY_RANGE_MISMATCH
        raise DayError(reason_code_, f"400 range {first}-{last} outside the day's {n} intervals "
                       f"({block.interval_minutes} minutes)")
    if not block.quality.flags.writeable:  # shared arrays of a uniform day: this day gets its own
        block.quality, block.method_flag, block.reason_code = (
            block.quality.copy(), block.method_flag.copy(), block.reason_code.copy())
    block.quality[first - 1:last] = letter
    block.method_flag[first - 1:last] = flag
    block.reason_code[first - 1:last] = reason


def check_ranges(block: Block) -> DayError | None:
    """A V day whose 400s left intervals without quality; None when every interval has one."""
    open_ = np.flatnonzero(block.quality == "V")
    if not len(open_):
        return None
    n, covered = len(block), len(block) - len(open_)
    if covered and open_[0] == covered and covered in INTERVALS_PER_DAY:  # 400s written for a day of `covered`
        return DayError(reasons.INTERVAL_LENGTH_MISMATCH, f"400 records cover intervals 1-{covered}, a day of "
                        f"{INTERVALS_PER_DAY[covered]}-minute intervals; this day has {n}", block)
    return DayError(reasons.QUALITY_RANGE_MISMATCH, f"400 records leave {len(open_)} of {n} intervals without "
                    f"quality (first: interval {open_[0] + 1})", block)
