"""The SGSC households (data/sgsc-nsw-50-households/PROVENANCE.md) as one IntervalSeries per
household: real meters whose truth is known, for VEE's evaluation. The source's clock and its
DST-start labelling glitch are handled once, by meters.nem12.sgsc.sgsc_intervals."""

from pathlib import Path

from meters.nem12.sgsc import INTERVAL_MINUTES, SOURCE, sgsc_intervals
from meters.vee.series import IntervalSeries, on_grid

INTERVAL_S = INTERVAL_MINUTES * 60


def load(path: Path = SOURCE) -> dict[int, IntervalSeries]:
    df = sgsc_intervals(path)
    return {int(cid): on_grid(g["interval_end_unix_s"].to_numpy(), g["kwh"].to_numpy(), INTERVAL_S)
            for cid, g in df.groupby("customer_id", sort=True)}
