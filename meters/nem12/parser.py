"""parse(): a streaming NEM12 / NEM13 reader. Bytes in; Blocks, AccumulationReads and Problems out.

One line is read at a time; a 300 day is held only until the next record shows whether 400s (its
quality ranges) or a 500 follow. A bad record becomes a Problem with its file, line and reason, and
the rest of the file keeps flowing. Replacement by UpdateDateTime is the caller's (see replace.py):
a streaming reader cannot take back a day it has already given out.
"""

from collections.abc import Iterator

from meters.nem12 import reasons
from meters.nem12.channel import ASSUMED_HEADER, ChannelError, channel, header, text
from meters.nem12.day import DayError, apply_range, check_ranges, interval_day
from meters.nem12.nem13 import BadRecord, accumulation_read
from meters.nem12.nemtime import BadDate
from meters.nem12.quality import BadQuality
from meters.nem12.records import B2B, AccumulationRead, Block, Problem
from meters.nem12.source import Source, members
from meters.nem12.units import unit_of
from meters.nem12.values import run_values, value_count

Item = Block | AccumulationRead | Problem
RUN = 256  # 300 records read together (values.run_values): large enough to amortise, small enough to stream
BOM = b"\xef\xbb\xbf"


def parse(source: Source, *, name: str = "") -> Iterator[Item]:
    """Every record of a NEM12 / NEM13 file (path, binary file object, bytes, or a zip of them), in
    file order. ``name`` labels Problems (default: the file's own name)."""
    for label, lines in members(source, name):
        yield from _FileReader(label).read(lines)


class _Pending:
    """The last 300 (or 250): kept until the records after it (400, 500, 550) have been applied."""

    __slots__ = ("item", "error", "variable", "last_line")

    def __init__(self, item, error: DayError | None = None, variable: bool = False, line: int = 0):
        self.item, self.error, self.variable, self.last_line = item, error, variable, line


class _FileReader:
    def __init__(self, file: str):
        self.file = file
        self.header = None
        self.channel = None
        self.unit = None
        self.channel_error: ChannelError | None = None
        self.pending: _Pending | None = None
        self.ended_at = 0  # line of the last 900 while no record followed it
        self.ends = self.records = self.data_records = 0
        self.run: list[tuple[bytes, list[bytes], int]] = []  # consecutive 300s not read yet

    def problem(self, line: int, record: str, reason: str, message: str, **kw) -> Problem:
        return Problem(self.file, line, record, reason, message, **kw)

    def read(self, lines: Iterator[bytes]) -> Iterator[Item]:
        line = 0
        for line, raw in enumerate(lines, 1):
            raw = raw.rstrip(b"\r\n")
            if line == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            fields = raw.split(b",")
            record = fields[0].strip()
            if record == b"300" and not self.ended_at and self.records:  # the hot path: most lines of a file
                self.data_records += 1
                self.run.append((raw, fields, line))
                if len(self.run) == RUN:
                    yield from self.run_days()
            else:
                if self.run:
                    yield from self.run_days()
                yield from self.other(record, fields, line)
        if self.run:
            yield from self.run_days()
        yield from self.flush()
        yield from self.finish(line)

    def other(self, record: bytes, fields: list[bytes], line: int) -> Iterator[Item]:
        if not record and not b"".join(fields).strip():  # a blank line (or only commas)
            return
        indicator = record[:10].decode(errors="replace")
        if self.records == 0 and record != b"100":
            yield self.problem(line, indicator, reasons.MISSING_HEADER,
                               "file does not start with a 100 header record; NEM12 assumed")
            self.header = ASSUMED_HEADER
        self.records += 1
        if self.ended_at and record != b"100":
            yield self.problem(line, indicator, reasons.RECORDS_AFTER_END,
                               f"records after the 900 end record of line {self.ended_at}; read on")
        self.ended_at = 0
        if record == b"400":
            yield from self.quality_range(fields, line)
            return
        if record in (b"500", b"550"):  # B2B details of the read before them
            if self.pending is None:
                yield self.problem(line, indicator, reasons.RECORD_OUT_OF_ORDER,
                                   f"{indicator} record without a read before it")
            else:
                self.pending.item.b2b.append(B2B(indicator, tuple(text(f) for f in fields[1:])))
            return
        yield from self.flush()
        if record == b"300":
            self.data_records += 1
            yield from self.interval_day(fields, line)
        elif record == b"200":
            self.data_records += 1
            self.start_channel(fields, line)
        elif record == b"250":
            self.data_records += 1
            yield from self.accumulation(fields, line)
        elif record == b"100":
            yield from self.start_file(fields, line)
        elif record == b"900":
            self.ends += 1
            self.ended_at = line
        else:
            yield self.problem(line, indicator, reasons.UNKNOWN_RECORD,
                               f"record indicator {indicator!r} is not an MDFF record")

    def start_file(self, fields: list[bytes], line: int) -> Iterator[Item]:
        self.header, bad = header(fields)
        self.channel, self.channel_error = None, None
        if bad:
            yield self.problem(line, "100", bad, f"100 header: version {text(fields[1]) if len(fields) > 1 else ''!r} "
                               f"or date-time {text(fields[2]) if len(fields) > 2 else ''!r} not valid")

    def start_channel(self, fields: list[bytes], line: int) -> None:
        try:
            self.channel, self.channel_error = channel(fields, self.header, line), None
            self.unit = unit_of(self.channel.uom)
        except ChannelError as e:
            self.channel, self.channel_error, self.unit = e.channel, e, None

    def run_days(self) -> Iterator[Item]:
        """The 300s of the run, their values read in one pass; the last stays pending (400s may follow)."""
        run, self.run = self.run, []
        values = None
        if self.channel is not None and self.channel_error is None:
            values = run_values([r[0] for r in run], [r[1] for r in run], 1440 // self.channel.interval_minutes,
                                self.unit)
        for i, (_, fields, line) in enumerate(run):
            yield from self.flush()
            yield from self.interval_day(fields, line, None if values is None else values[i])

    def interval_day(self, fields: list[bytes], line: int, parsed=None) -> Iterator[Item]:
        if self.channel is None:
            count = value_count(fields)
            error = self.channel_error
            if error is None:
                yield self.problem(line, "300", reasons.RECORD_OUT_OF_ORDER, "300 record before any 200 record",
                                   intervals=count)
            else:
                yield self.problem(line, "300", error.reason, f"{error} (200 record of line {error.line})",
                                   nmi=error.nmi, suffix=error.suffix, intervals=count)
            return
        try:
            block, variable, lacks = interval_day(fields, self.channel, self.unit, line, parsed)
        except DayError as e:
            e.at(line, "300")
            if e.block is None:
                yield self.day_problem(e)
            else:
                self.pending = _Pending(e.block, e, line=line)
            return
        if lacks:
            yield self.problem(line, "300", reasons.MISSING_FIELDS, "300 record without ReasonDescription / "
                               "UpdateDateTime; kept with update time 0", nmi=block.nmi, suffix=block.suffix)
        self.pending = _Pending(block, None, variable, line)

    def day_problem(self, e: DayError) -> Problem:
        ch = e.block.channel if e.block is not None else self.channel
        return self.problem(e.line, e.record, e.reason, e.message, nmi=ch.nmi if ch else "",
                            suffix=ch.suffix if ch else "", intervals=e.intervals, block=e.block)

    def quality_range(self, fields: list[bytes], line: int) -> Iterator[Item]:
        pending = self.pending
        if pending is None or not isinstance(pending.item, Block):
            yield self.problem(line, "400", reasons.RECORD_OUT_OF_ORDER, "400 record without a 300 record before it")
            return
        pending.last_line = line
        try:
            apply_range(pending.item, fields)
        except DayError as e:
            if pending.error is None:
                e.block, e.intervals = pending.item, len(pending.item)
                pending.error = e.at(line, "400")
            else:  # the day is rejected already, for its first reason; this one is a note
                yield self.problem(line, "400", e.reason, e.message, nmi=pending.item.nmi, suffix=pending.item.suffix)

    def accumulation(self, fields: list[bytes], line: int) -> Iterator[Item]:
        try:
            self.pending = _Pending(accumulation_read(fields, self.header, line), line=line)
            return
        except BadRecord as e:
            reason, message = e.reason, str(e)
        except BadDate as e:
            reason, message = reasons.BAD_DATE, f"250 {e}"
        except BadQuality as e:
            reason, message = reasons.BAD_QUALITY, f"250 {e}"
        except ValueError as e:
            reason, message = reasons.BAD_VALUE, f"250 register read or quantity not a number: {e}"
        yield self.problem(line, "250", reason, message, nmi=text(fields[1]) if len(fields) > 1 else "")

    def flush(self) -> Iterator[Item]:
        pending, self.pending = self.pending, None
        if pending is None:
            return
        error = pending.error
        if error is None and pending.variable:
            error = check_ranges(pending.item)
            if error is not None:
                error.at(pending.last_line, "400" if pending.last_line != pending.item.line else "300")
        if error is None:
            yield pending.item
        else:
            yield self.day_problem(error)

    def finish(self, last_line: int) -> Iterator[Item]:
        if self.records + self.data_records == 0:
            yield self.problem(0, "", reasons.EMPTY_FILE, "file holds no records")
        elif self.ends == 0:
            yield self.problem(last_line, "", reasons.TRUNCATED_FILE, "no 900 end record: the file may be cut short")
        elif self.data_records == 0:
            yield self.problem(last_line, "", reasons.NO_DATA, "file holds no 200, 250 or 300 records")
