"""A watched drop folder of MDFF files (METERS_NEM12_DROP_DIR): a head-end or a metering data
provider's transfer job writes files into it, the ingest server imports each complete one with the
importer ImportNem12 uses, then moves it to `done/` (or `failed/`) with `<name>.summary.json` beside it.

- Complete: not a hidden or partial name (".*", "*.part", "*.tmp"), not empty, and the same size and
  mtime at two polls in a row (a writer still appending changes them). Writers should still write
  to `x.part` and rename to `x.csv` when done: a rename is atomic, a pause in writing is not.
- The file stays where it is until its import has ended, so a server stopped mid-import imports it
  again when it starts: the writer's keys store nothing twice, and the import ledger answers a file
  imported to the end from its first summary (ingest_svc/import_ledger.py).
- done/: imported; its summary may still list problems (malformed records, truncated, unknown NMIs).
  failed/: refused as a whole (wrong participant), unreadable, or nothing in it was MDFF (no interval
  read, only problems); the JSON says why. A transient failure (Kafka or PostgreSQL unavailable,
  overload) leaves the file in place, tried again with a growing delay.
- One server at a time imports from a folder: replicas mounting the same share take a PostgreSQL
  advisory lock named by the folder's path for each round, and the others skip that round. Replicas
  given a sub-folder each import in parallel.

File names are not logged (head-ends may name files by NMI): logs carry the file's SHA-256.
"""

import asyncio
import hashlib
import json
import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import psycopg
from google.protobuf.json_format import MessageToJson
from prometheus_client import Counter, Gauge

from ingest_svc.config import IngestSettings
from ingest_svc.import_ledger import LedgeredImporter
from meters.errors import DomainError

log = logging.getLogger(__name__)

DONE, FAILED = "done", "failed"
PARTIAL_SUFFIXES = (".part", ".tmp")
# Refusals worth retrying: the same file may import later. Any other DomainError refuses the file.
TRANSIENT = {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
MAX_RETRY_DELAY_S = 300.0

FILES = Counter("meters_ingest_nem12_drop_files_total",
                "Files of the NEM12 drop folder by outcome: imported (done/), failed (failed/), retried.",
                ["outcome"])
WAITING = Gauge("meters_ingest_nem12_drop_files_waiting", "Files in the NEM12 drop folder not imported yet.")

Stat = tuple[int, int]  # (size, mtime_ns)


def wanted(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(PARTIAL_SUFFIXES)


def scan(root: Path) -> dict[str, Stat]:
    """(size, mtime) of the files a writer may have finished, by name."""
    out = {}
    with os.scandir(root) as entries:
        for entry in entries:
            if wanted(entry.name) and entry.is_file():
                st = entry.stat()
                out[entry.name] = (st.st_size, st.st_mtime_ns)
    return out


def complete(now: dict[str, Stat], before: dict[str, Stat]) -> list[str]:
    """Files unchanged since the poll before, and not empty (a writer may not have started)."""
    return sorted(name for name, stat in now.items() if stat[0] > 0 and before.get(name) == stat)


def free_name(folder: Path, name: str) -> str:
    """`name`, or `stem-2.ext`, `stem-3.ext`, ... when a file of that name is already there."""
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    n, candidate = 1, name
    while (folder / candidate).exists() or (folder / (candidate + ".summary.json")).exists():
        n += 1
        candidate = f"{stem}-{n}{dot}{ext}"
    return candidate


@dataclass
class _Retry:
    at: float
    delay: float


class DropFolder:
    def __init__(self, root: Path, importer: LedgeredImporter, poll_s: float, dsn: str):
        self._root = root
        self._dsn = dsn
        self._importer = importer
        self._poll_s = poll_s
        self._retry: dict[str, _Retry] = {}

    async def run_forever(self) -> None:
        for sub in (DONE, FAILED):
            (self._root / sub).mkdir(parents=True, exist_ok=True)
        log.info("watching the NEM12 drop folder", extra={"fields": {"poll_s": self._poll_s}})
        before: dict[str, Stat] = {}
        while True:
            try:
                before = await self.poll(before)
            except Exception:  # the folder unreachable (a volume not mounted yet) or the database down
                log.exception("cannot import from the NEM12 drop folder this round")
            await asyncio.sleep(self._poll_s)

    async def poll(self, before: dict[str, Stat]) -> dict[str, Stat]:
        """Import every file complete since `before`; return this poll's listing."""
        now = await asyncio.to_thread(scan, self._root)
        WAITING.set(len(now))
        ready = [n for n in complete(now, before) if n not in self._retry or time.monotonic() >= self._retry[n].at]
        if ready:
            async with self._owned() as owner:
                for name in ready if owner else ():
                    await self._take(name)
        self._retry = {n: r for n, r in self._retry.items() if n in now}
        return now

    @asynccontextmanager
    async def _owned(self):
        """Whether this server holds the folder for the round (a connection of its own, not the pool's)."""
        key = "nem12-drop:" + str(self._root.resolve())
        async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as conn:
            got = (await (await conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])).fetchone())[0]
            try:
                yield got
            finally:
                if got:
                    await conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])

    async def _take(self, name: str) -> None:
        path = self._root / name
        try:
            sha256 = await asyncio.to_thread(_sha256, path)
            f = path.open("rb")
        except OSError as err:
            return await self._finish(name, FAILED, _error_json(name, "UNREADABLE", type(err).__name__, str(err)), {})
        fields = {"sha256": sha256}
        try:
            with f:
                summary = await self._importer.import_file(f, name, sha256)
        except DomainError as err:
            if err.code in TRANSIENT:
                return self._later(name, err)
            return await self._finish(name, FAILED, _error_json(name, err.code.name, err.reason, err.message), fields)
        except Exception as err:  # Kafka or PostgreSQL trouble, or a bug: keep the file, say so, retry
            return self._later(name, err)
        outcome = FAILED if summary.intervals == 0 and summary.problem_count else DONE
        fields.update(intervals=summary.intervals, accepted=summary.summary.accepted,
                      rejected=summary.summary.rejected, problems=summary.problem_count,
                      already_imported=summary.already_imported)
        await self._finish(name, outcome, MessageToJson(summary, preserving_proto_field_name=True), fields)

    def _later(self, name: str, err: Exception) -> None:
        before = self._retry.get(name)
        delay = min(MAX_RETRY_DELAY_S, before.delay * 2) if before else self._poll_s
        self._retry[name] = _Retry(time.monotonic() + delay, delay)
        FILES.labels("retried").inc()
        log.warning("drop-folder import failed, the file stays for a retry", exc_info=err,
                    extra={"fields": {"retry_in_s": delay}})

    async def _finish(self, name: str, outcome: str, summary_json: str, fields: dict) -> None:
        """The summary first, then the file: a crash between the two imports the file again (the ledger
        answers it) and writes the summary again."""
        folder = self._root / outcome
        target = free_name(folder, name)

        def move() -> None:
            tmp = folder / f".{target}.summary.json.tmp"
            tmp.write_text(summary_json + "\n")
            os.replace(tmp, folder / f"{target}.summary.json")
            os.replace(self._root / name, folder / target)

        await asyncio.to_thread(move)
        self._retry.pop(name, None)
        FILES.labels("imported" if outcome == DONE else "failed").inc()
        log.info("drop-folder file " + ("imported" if outcome == DONE else "failed"), extra={"fields": fields})


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _error_json(name: str, code: str, reason: str, message: str) -> str:
    return json.dumps({"file": name, "error": {"code": code, "reason": reason, "message": message}}, indent=2)


def drop_folder_tasks(settings: IngestSettings, importer: LedgeredImporter) -> list:
    """The ingest server's background task watching METERS_NEM12_DROP_DIR, if set."""
    if not settings.nem12_drop_dir:
        return []
    return [DropFolder(Path(settings.nem12_drop_dir), importer, settings.nem12_drop_poll_s,
                       settings.pg_dsn).run_forever]
