"""Fleet generation throughput and memory: `python -m bench.fleet [--meters N --days D --write DIR]`.

run() is what bench/run.py calls: a sizeable in-memory run (readings generated
and dropped, as when streaming to ingest) plus a Parquet write of a smaller one.
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from meters.fleet import FleetConfig, generate_topology, iter_reading_chunks
from meters.fleet.writer import write_fleet


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def generate_only(meters: int, days: int, seed: int = 7) -> dict[str, float]:
    cfg = FleetConfig(meters=meters, days=days, seed=seed)
    t0 = time.perf_counter()
    topo = generate_topology(cfg)
    t1 = time.perf_counter()
    n = sum(len(c) for c in iter_reading_chunks(cfg, topo))
    t2 = time.perf_counter()
    return {
        "fleet_readings": float(n),
        "fleet_topology_s": t1 - t0,
        "fleet_generate_s": t2 - t1,
        "fleet_readings_per_s": n / (t2 - t1),
    }


def generate_and_write(meters: int, days: int, out: Path, seed: int = 7) -> dict[str, float]:
    cfg = FleetConfig(meters=meters, days=days, seed=seed)
    manifest = write_fleet(cfg, out)
    n = manifest["counts"]["readings"]
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {
        "fleet_write_readings": float(n),
        "fleet_write_s": manifest["elapsed_s"],
        "fleet_write_readings_per_s": n / manifest["elapsed_s"],
        "fleet_write_bytes_per_reading": size / n,
    }


def run(meters: int = 200_000, days: int = 1, write_meters: int = 50_000) -> dict[str, float]:
    result = generate_only(meters, days)
    with tempfile.TemporaryDirectory() as tmp:
        result |= generate_and_write(write_meters, days, Path(tmp))
    result["fleet_peak_rss_mb"] = _peak_rss_mb()
    return result


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--meters", type=int, default=200_000)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--write", type=Path, help="also write Parquet for the same fleet here")
    args = ap.parse_args(argv)
    if args.write:
        result = generate_and_write(args.meters, args.days, args.write)
    else:
        result = generate_only(args.meters, args.days)
    result["fleet_peak_rss_mb"] = _peak_rss_mb()
    for k, v in result.items():
        print(f"{k:32s} {v:,.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
