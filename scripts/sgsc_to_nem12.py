"""Write the SGSC households (data/sgsc-nsw-50-households) as one NEM12 file.

    .venv/bin/python scripts/sgsc_to_nem12.py OUT.csv [--source CSV]

30-minute E1 kWh in NEM time, one NMI per household (meters.nem12.sgsc says how the source's
clock and its daylight-saving labels are read)."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from meters.nem12.sgsc import SOURCE, write_sgsc_nem12  # noqa: E402

if __name__ == "__main__":
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("out", type=Path)
    args.add_argument("--source", type=Path, default=SOURCE)
    ns = args.parse_args()
    write_sgsc_nem12(ns.out, ns.source)
    print(f"wrote {ns.out} ({ns.out.stat().st_size:,} bytes)")
