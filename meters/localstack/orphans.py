"""Throwaway stacks whose owner died without stopping them (a SIGKILLed pytest, say).

A throwaway stack's directory holds owner.pid; `reap` stops the servers of every such directory
whose owner is gone and removes it. Servers are found through their own pid files and data
dirs, so nothing but this harness's servers is ever signalled.
"""

import glob
import os
import shutil
from pathlib import Path

from meters.localstack.common import pid_alive
from meters.localstack.kafka import LocalKafka
from meters.localstack.postgres import LocalPostgres

OWNER = "owner.pid"


def claim(base_dir: Path) -> None:
    (base_dir / OWNER).write_text(str(os.getpid()))


def reap(pattern: str = "/tmp/meters-*") -> list[Path]:
    reaped = []
    for base in map(Path, sorted(glob.glob(pattern))):
        try:
            owner = int((base / OWNER).read_text())
        except (OSError, ValueError):
            continue
        if pid_alive(owner):
            continue
        for kafka_dir in {base, base / "kafka", *(base / "kafka").glob("kafka-*")}:  # a node, or a cluster's
            if (kafka_dir / "kafka.pid").exists():
                LocalKafka(kafka_dir, 0, 1).stop(timeout=10)
        if (base / "postgres" / "data" / "PG_VERSION").exists():
            LocalPostgres(base / "postgres", 0).stop()
        shutil.rmtree(base, ignore_errors=True)
        reaped.append(base)
    return reaped
