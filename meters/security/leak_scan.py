"""Looks for raw customer and meter identifiers where none may be: log files, /metrics text, every
Kafka message of every topic, every row of the database.

An identifier counts as leaked in its raw form or as its unsalted sha256 (hex), the caller-side hash
a keyed hash replaced: either can be joined back by hashing known NMIs. Matching is exact text with no
digit on either side, so an NMI inside a longer number is not one. Bytes (Kafka messages, protobuf or
Arrow) are read as Latin-1: a string field of a protobuf is its UTF-8 bytes, verbatim.
Used by tests/e2e/test_pii_leaks.py; it can be pointed at any run of the mesh.
"""

import hashlib
import re
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from meters.kafka import MAX_MESSAGE_BYTES

EXCERPT_CHARS = 60


@dataclass(frozen=True)
class Finding:
    place: str  # "log:<file>:<line>", "metrics:<name>", "kafka:<topic>/<partition>@<offset>", "db:<table>"
    identifier: str  # the raw identifier, whichever form of it was found
    form: str  # "raw" or "sha256"
    excerpt: str

    def __str__(self) -> str:
        return f"{self.place}: {self.identifier} ({self.form}) in ...{self.excerpt}..."


@dataclass
class ScanReport:
    findings: list[Finding] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)  # place -> bytes, lines, messages or rows read

    def add(self, other: "ScanReport") -> "ScanReport":
        self.findings += other.findings
        self.scanned.update(other.scanned)
        return self


class Needles:
    """The identifiers to look for, in both forms, as one expression."""

    def __init__(self, identifiers: Iterable[str]):
        self._of: dict[str, tuple[str, str]] = {}
        for raw in {i.strip() for i in identifiers if i.strip()}:
            self._of[raw] = (raw, "raw")
            self._of[hashlib.sha256(raw.encode()).hexdigest()] = (raw, "sha256")
        if not self._of:
            raise ValueError("no identifiers to look for")
        alternatives = "|".join(re.escape(n) for n in sorted(self._of, key=len, reverse=True))
        self._re = re.compile(f"(?<![0-9])(?:{alternatives})(?![0-9])")

    def __len__(self) -> int:
        return len(self._of)

    def find(self, place: str, data: str | bytes) -> list[Finding]:
        text = data.decode("latin-1") if isinstance(data, bytes) else data
        found = []
        for m in self._re.finditer(text):
            raw, form = self._of[m.group()]
            excerpt = text[max(0, m.start() - EXCERPT_CHARS):m.end() + EXCERPT_CHARS]
            found.append(Finding(place, raw, form, excerpt.encode("unicode_escape").decode()))
        return found


def scan_files(needles: Needles, paths: Iterable[Path]) -> ScanReport:
    """Log files, line by line (a finding names its line)."""
    report = ScanReport()
    for path in paths:
        lines = path.read_bytes().splitlines()
        report.scanned[f"log:{path.name}"] = len(lines)
        for number, line in enumerate(lines, 1):
            report.findings += needles.find(f"log:{path.name}:{number}", line)
    return report


def scan_metrics(needles: Needles, urls: Mapping[str, str], timeout_s: float = 10) -> ScanReport:
    """The /metrics text of each process (name -> URL), as Prometheus would scrape it."""
    report = ScanReport()
    for name, url in urls.items():
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            text = resp.read()
        report.scanned[f"metrics:{name}"] = len(text)
        report.findings += needles.find(f"metrics:{name}", text)
    return report


async def scan_kafka(needles: Needles, bootstrap: str, idle_ms: int = 1000) -> ScanReport:
    """Every message of every topic (internal ones too) from the beginning: key, value and headers,
    committed or not."""
    report = ScanReport()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics()  # every topic, internal ones included
    finally:
        await admin.close()
    parts = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    for t in described:
        report.scanned[f"kafka:{t['topic']}"] = 0
    if not parts:
        return report
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                isolation_level="read_uncommitted", max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
                                fetch_max_bytes=4 * MAX_MESSAGE_BYTES)
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        pending = {tp for tp in parts if ends[tp] > await consumer.position(tp)}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=idle_ms)
            for tp, records in batches.items():
                report.scanned[f"kafka:{tp.topic}"] += len(records)
                for r in records:
                    data = b"\0".join([r.key or b"", r.value or b""] + [k.encode() + b"=" + (v or b"")
                                                                         for k, v in r.headers or ()])
                    report.findings += needles.find(f"kafka:{tp.topic}/{tp.partition}@{r.offset}", data)
            # Control records of transactions hold offsets but yield nothing: position still moves past them.
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return report


def scan_database(needles: Needles, dsn: str) -> ScanReport:
    """Every row of every table outside PostgreSQL's own schemas, as its text form (a partitioned
    table once, through its parent)."""
    report = ScanReport()
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute(
            """SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
               ORDER BY 1, 2""").fetchall()
        for schema, table in tables:
            place = f"db:{schema}.{table}"
            rows = 0
            # A server-side cursor: a table of a real run need not fit in memory.
            with conn.transaction(), conn.cursor(name="leak_scan") as cur:
                cur.execute(sql.SQL("SELECT t::text FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(table)))
                while batch := cur.fetchmany(10_000):
                    rows += len(batch)
                    report.findings += needles.find(place, "\n".join(r[0] for r in batch))
            report.scanned[place] = rows
    return report
