"""NEM12 parse throughput and memory: `python -m bench.nem12_parse [--intervals N]`.

run() writes a NEM12 file of about 10 million intervals into a temporary directory (write_nem12:
30-minute E1 + B1 channels, every tenth NMI also a 5-minute channel, a year each, 2 % of days of
mixed quality as V + 400s) and parses it in a fresh process, so the peak RSS is the parser's own:
intervals/s over the whole file, then a second pass under tracemalloc (peak traced bytes after the
first tenth of the file and after all of it: flat memory means the two are alike). The parse is
one leg of the import, whose goal end to end (parse + validate + Kafka + PostgreSQL) is >= 300,000
intervals/s and flat memory under 500 MB.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from meters.nem12 import Block, channel_of, day_blocks, parse, write_nem12
from meters.nem12.nemtime import NEM_OFFSET_S

DAY0 = 1704067200 - NEM_OFFSET_S  # 2024-01-01 00:00 NEM time
DAYS = 365


def _channel_blocks(nmi: str, suffix: str, minutes: int, rng: np.random.Generator, day0: int = DAY0,
                   days: int = DAYS):
    n = days * 1440 // minutes
    ends = day0 + minutes * 60 * np.arange(1, n + 1)
    values = np.round(rng.gamma(2.0, 0.1 * minutes / 30, n), 3)
    per_day = 1440 // minutes
    quality, method = np.full(n, "A"), np.zeros(n, np.int16)
    for d in np.flatnonzero(rng.random(days) < 0.02):  # a substituted stretch inside the day
        lo = d * per_day + rng.integers(0, per_day // 2)
        quality[lo:lo + per_day // 4], method[lo:lo + per_day // 4] = "S", 14
    channel = channel_of(nmi, suffix, interval_minutes=minutes, meter_serial=f"SER{nmi[-6:]}")
    return day_blocks(channel, ends, values, quality=quality, method_flag=method,
                      update_time_unix_s=day0 + days * 86400)


def _channels(i: int) -> list[tuple[str, int]]:
    return [("E1", 30), ("B1", 30)] + ([("E2", 5)] if i % 10 == 0 else [])


def write_file(path: Path, intervals: int, seed: int = 7, day0: int = DAY0, days: int = DAYS,
               channels=_channels) -> int:
    """A NEM12 file of at least `intervals` intervals (NMIs BENCH00000..., `channels(i)` the (suffix,
    minutes) of the i-th, `days` from `day0`); returns the number written."""
    rng = np.random.default_rng(seed)
    written = 0

    def blocks():
        nonlocal written
        i = 0
        while written < intervals:
            nmi = f"BENCH{i:05d}"
            for suffix, minutes in channels(i):
                for block in _channel_blocks(nmi, suffix, minutes, rng, day0, days):
                    written += len(block)
                    yield block
            i += 1

    write_nem12(path, blocks(), from_participant="BENCHMDP", to_participant="METERS", created=day0 + days * 86400)
    return written


def parse_file(path: str, trace: bool) -> dict[str, float]:
    """One pass over the file, in this process: what a consumer of parse() sees."""
    intervals = problems = 0
    tenth_peak = 0
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    for item in parse(path):
        if isinstance(item, Block):
            intervals += len(item.values)
            if trace and not tenth_peak and intervals >= 1_000_000:
                tenth_peak = tracemalloc.get_traced_memory()[1]
        else:
            problems += 1
    elapsed = time.perf_counter() - started
    out = {"intervals": intervals, "problems": problems, "seconds": elapsed,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if trace:
        out |= {"traced_peak_first_1m_mb": tenth_peak / 2**20,
                "traced_peak_mb": tracemalloc.get_traced_memory()[1] / 2**20}
    return out


def _child(path: Path, trace: bool) -> dict[str, float]:
    args = [sys.executable, "-m", "bench.nem12_parse", "--parse", str(path)] + (["--trace"] if trace else [])
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def run(intervals: int = 10_000_000) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "NEM12#BENCH#BENCHMDP#METERS.csv"
        started = time.perf_counter()
        written = write_file(path, intervals)
        write_s = time.perf_counter() - started
        size = path.stat().st_size
        timed = _child(path, trace=False)
        traced = _child(path, trace=True)
    assert timed["intervals"] == written and timed["problems"] == 0, (timed, written)
    result = {
        "nem12_parse_intervals": float(written),
        "nem12_parse_file_mb": size / 2**20,
        "nem12_parse_seconds": timed["seconds"],
        "nem12_parse_intervals_per_s": written / timed["seconds"],
        "nem12_parse_mb_per_s": size / 2**20 / timed["seconds"],
        "nem12_parse_peak_rss_mb": timed["peak_rss_mb"],
        "nem12_parse_traced_peak_first_1m_mb": traced["traced_peak_first_1m_mb"],
        "nem12_parse_traced_peak_mb": traced["traced_peak_mb"],
        "nem12_write_intervals_per_s": written / write_s,
    }
    for key, value in result.items():
        print(f"   {key:40s} {value:>16,.2f}", flush=True)
    print("   targets: parse >= 1,000,000 intervals/s (the import end to end >= 300,000), peak RSS < 500 MB, "
          "traced peak flat (all of the file ~ its first million intervals)", flush=True)
    return result


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--intervals", type=int, default=10_000_000)
    ap.add_argument("--parse", help="parse this file in this process and print JSON (used by run())")
    ap.add_argument("--trace", action="store_true")
    ns = ap.parse_args(argv)
    if ns.parse:
        print(json.dumps(parse_file(ns.parse, ns.trace)))
    else:
        run(ns.intervals)


if __name__ == "__main__":
    main(sys.argv[1:])
