"""CPU seconds used by groups of processes, read from /proc: where the time goes."""

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _pids_named(comm: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == comm:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def snapshot(named_pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named pid, of all postgres backends and of the Kafka JVM."""
    cpu = {name: _cpu_s(pid) for name, pid in named_pids.items()}
    cpu["postgres"] = sum(_cpu_s(p) for p in _pids_named("postgres"))
    cpu["kafka"] = sum(_cpu_s(p) for p in _pids_named("java"))
    cpu["bench_client"] = _cpu_s(os.getpid())
    return cpu


def used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
