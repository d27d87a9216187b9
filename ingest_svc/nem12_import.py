"""Importing an AEMO MDFF file (NEM12 intervals, NEM13 accumulation reads, or a zip of them).

The file is parsed as a stream (meters.nem12.parse, in a worker thread, one batch of about
BATCH_INTERVALS intervals ahead of the one being published), NMIs are turned into their keyed
hashes and looked up among the registered meters, and each batch takes the path of streamed
readings: validation, Kafka, the writer. Every interval is accepted or rejected with its reason:

- quality N (null data)                       -> NULL_INTERVAL
- a suffix other than the import register(s)  -> CHANNEL_NOT_STORED (export, reactive, ...)
- a unit that is not energy                   -> NOT_ENERGY
- a record the parser refused                 -> MALFORMED_RECORD, detail "file:line REASON: ..."
- an NMI that is not a registered meter       -> UNKNOWN_METER (the NMI is listed in the summary
                                                 returned to the caller, never logged or sent to Kafka)

Rejected intervals are keyed by the file's SHA-256, line and interval, and accepted ones by
(meter, interval end) with the UpdateDateTime as version, so re-importing a file adds nothing.
"""

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterator

import numpy as np

from ingest_svc.ingest import Ingestor
from ingest_svc.publisher import Provenance
from meters.errors import failed_precondition
from meters.ingest.v1 import nem12_pb2
from meters.ingest.v1.reading_pb2 import RejectionReason
from meters.nem12 import AccumulationRead, Block, Problem, parse, reasons
from meters.nem12.source import Source
from meters.readings import ReadingColumns, ReadingQuality, add_summaries
from meters.security.pii import PiiKey

R = RejectionReason
ORIGIN = "nem12-import"
BATCH_INTERVALS = 100_000
MAX_LISTED_PROBLEMS = 1000
MAX_LISTED_NMIS = 100

# Digests of NMIs -> meter ids of those registered (absent: not registered).
Lookup = Callable[[list[str]], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class ImportOptions:
    participant: str = ""  # the ToParticipant files must be addressed to ("" = any)
    import_suffixes: frozenset[str] = frozenset({"E1"})  # data streams stored as consumption


@dataclass
class _Batch:
    """Items parsed ahead of publishing: up to about BATCH_INTERVALS intervals."""

    blocks: list[Block] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    reads: int = 0
    intervals: int = 0
    done: bool = False


def _next_batch(items: Iterator, limit: int = BATCH_INTERVALS) -> _Batch:
    batch = _Batch()
    for item in items:
        if isinstance(item, Block):
            batch.blocks.append(item)
            batch.intervals += len(item)
        elif isinstance(item, Problem):
            batch.problems.append(item)
            if item.block is not None:
                batch.intervals += len(item.block)
        elif isinstance(item, AccumulationRead):
            batch.reads += 1
        if batch.intervals >= limit:
            return batch
    batch.done = True
    return batch


def _ascii_letters(quality: np.ndarray) -> np.ndarray:
    """"S1" of the parser's "<U1" quality letters (A S F E N V: ASCII) without encoding each one."""
    return np.ascontiguousarray(quality, dtype="<U1").view(np.uint32).astype(np.uint8).view("S1")


class Nem12Importer:
    def __init__(self, ingestor: Ingestor, lookup: Lookup, pii: PiiKey, options: ImportOptions = ImportOptions()):
        self._ingestor = ingestor
        self._lookup = lookup
        self._pii = pii
        self._options = options

    async def import_file(self, source: Source, name: str, sha256: str) -> nem12_pb2.Nem12ImportSummary:
        run = _ImportRun(self, name, sha256)
        items = parse(source, name=name)
        pending = asyncio.create_task(asyncio.to_thread(_next_batch, items))
        try:
            while True:
                batch = await pending
                if not batch.done:  # parse the next batch while this one is validated and published
                    pending = asyncio.create_task(asyncio.to_thread(_next_batch, items))
                await run.take(batch)
                if batch.done:
                    break
        finally:
            if not pending.done():
                pending.cancel()
            items.close()
        return run.summary()


class _ImportRun:
    """The state of one file's import: meters found so far and the counts of its summary."""

    def __init__(self, importer: Nem12Importer, name: str, sha256: str):
        self._imp = importer
        self._source = "nem12:" + sha256
        self._meters: dict[str, int] = {}  # NMI -> meter id (0 = not registered)
        self._unknown: list[str] = []
        self._file_time_ms = 0
        self._checked_header = False
        self._out = nem12_pb2.Nem12ImportSummary(file=name, sha256=sha256)
        self._suffixes: Counter = Counter()
        self._qualities: Counter = Counter()
        self._days = 0

    async def take(self, batch: _Batch) -> None:
        self._out.accumulation_reads += batch.reads
        for problem in batch.problems:
            self._note(problem)
        if batch.blocks:
            self._check_header(batch.blocks[0])
        blocks = batch.blocks + [p.block for p in batch.problems if p.block is not None and len(p.block)]
        if not blocks:
            return
        await self._map_meters({b.nmi for b in blocks})
        cols, provenance, preset = self._columns(batch.blocks, [p for p in batch.problems if p.block is not None])
        part = await self._imp._ingestor.ingest_columns(cols, provenance, preset)
        add_summaries(self._out.summary, part)

    def _check_header(self, block: Block) -> None:
        if self._checked_header:
            return
        self._checked_header = True
        head = block.header
        self._out.version, self._out.from_participant, self._out.to_participant = (
            head.version, head.from_participant, head.to_participant)
        self._file_time_ms = head.created_unix_s * 1000
        wanted = self._imp._options.participant
        if wanted and not head.assumed and head.to_participant.upper() != wanted.upper():
            raise failed_precondition(
                f"the file is addressed to participant {head.to_participant!r}, not to {wanted!r}"
                " (METERS_NEM12_PARTICIPANT): nothing was imported", reason="WRONG_PARTICIPANT")

    def _note(self, problem: Problem) -> None:
        if problem.reason == reasons.TRUNCATED_FILE:
            self._out.truncated = True
        self._out.problem_count += 1
        if len(self._out.problems) < MAX_LISTED_PROBLEMS:
            self._out.problems.add(file=problem.file, line=problem.line, record=problem.record,
                                   reason=problem.reason, message=problem.message, intervals=problem.intervals)

    async def _map_meters(self, nmis: set[str]) -> None:
        new = [n for n in nmis if n not in self._meters]
        if not new:
            return
        digests = {n: self._imp._pii.digest(n) for n in new}
        found = await self._imp._lookup(list(digests.values()))
        for nmi, digest in digests.items():
            self._meters[nmi] = found.get(digest, 0)
            if not self._meters[nmi]:
                self._out.unknown_nmi_count += 1
                if len(self._unknown) < MAX_LISTED_NMIS:
                    self._unknown.append(nmi)

    def _columns(self, blocks: list[Block], refused: list[Problem]):
        """Columns of every interval of the batch, their NEM quality and provenance, and preset reasons."""
        opts = self._imp._options
        parts = [(b, 0, "") for b in blocks] + [
            (p.block, R.REJECTION_REASON_MALFORMED_RECORD, f"{p.file}:{p.line} {p.reason}: {p.message}")
            for p in refused]
        if not self._file_time_ms:
            first = next((b for b, *_ in parts if len(b) and b.interval_end_unix_s[0] > 0), None)
            self._file_time_ms = int(first.interval_end_unix_s[0]) * 1000 if first is not None else 0
        lengths = [len(b) for b, *_ in parts]
        n = sum(lengths)
        meter_ids = np.repeat([self._meters[b.nmi] for b, *_ in parts], lengths).astype(np.int64)
        times = np.concatenate([b.interval_end_unix_s for b, *_ in parts]).astype(np.int64)
        kwh = np.concatenate([b.values for b, *_ in parts]).astype(np.float64)
        hours = np.repeat([b.interval_minutes / 60 for b, *_ in parts], lengths)
        letters = _ascii_letters(np.concatenate([b.quality for b, *_ in parts]))
        preset = np.zeros(n, dtype=np.int8)
        details = None  # object, made only when a row has a detail of its own (rejected rows only)
        at = 0
        for (b, reason, detail), k in zip(parts, lengths):
            rows = slice(at, at + k)
            at += k
            self._suffixes[b.suffix] += k
            if not reason:
                self._days += 1
                if b.suffix not in opts.import_suffixes:
                    reason = R.REJECTION_REASON_CHANNEL_NOT_STORED
                    detail = f"data stream {b.suffix} ({b.unit or b.uom}) is not stored as consumption"
                elif b.unit != "kWh":
                    reason, detail = R.REJECTION_REASON_NOT_ENERGY, f"unit {b.uom!r} of data stream {b.suffix} is not energy"
                if not self._meters[b.nmi]:
                    detail = f"NMI not registered (keyed hash {self._imp._pii.digest(b.nmi)[:12]})"
            if reason:
                preset[rows] = reason
            if detail:
                details = np.full(n, "", dtype=object) if details is None else details
                details[rows] = detail
        null = (letters == b"N") & (preset == 0)
        preset[null] = R.REJECTION_REASON_NULL_INTERVAL
        counts = np.bincount(letters.view(np.uint8), minlength=128)
        for code in np.flatnonzero(counts):
            self._qualities[chr(code)] += int(counts[code])
        self._out.intervals += n
        unknown = np.full(n, np.nan)
        cols = ReadingColumns(meter_ids, times, kwh, kwh / hours, unknown, unknown, unknown)
        quality = ReadingQuality(
            letters, np.concatenate([b.method_flag for b, *_ in parts]).astype(np.int16),
            np.concatenate([b.reason_code for b, *_ in parts]).astype(np.int16),
            np.repeat([b.update_time_unix_s for b, *_ in parts], lengths).astype(np.int64))
        lines = np.repeat([b.line for b, *_ in parts], lengths).astype(np.int64)
        index = (np.arange(n) - np.repeat(np.cumsum(lengths) - lengths, lengths)).astype(np.int32)
        provenance = Provenance(ORIGIN, quality, True, self._source, lines, index, self._file_time_ms, details)
        return cols, provenance, preset

    def summary(self) -> nem12_pb2.Nem12ImportSummary:
        out = self._out
        out.nmis = len(self._meters)
        out.days = self._days
        out.unknown_nmis.extend(self._unknown)
        for suffix, count in sorted(self._suffixes.items()):
            out.suffixes.add(suffix=suffix, intervals=count)
        out.qualities.update(self._qualities)
        return out

