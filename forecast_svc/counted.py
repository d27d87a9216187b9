"""Count each (meter, step) reading once in the actuals, whichever Kafka message brings it.

Replayed messages are skipped by offset (actuals.py); a reading *re-sent* through ingest travels
in a new message with a new offset, so the sums need to know which meters each step already
holds. forecast.counted_readings keeps, per 15-minute step, the sorted ids of the meters counted
(delta-encoded, zlib: contiguous ids compress to a few kB per 100,000 meters). apply() locks the
rows of the steps it touches in the actuals transaction, so the ids and the sums commit together.
The first reading of a (meter, step) counts, as the first write wins in ingest (decision 4).
"""

import zlib

import numpy as np
import pandas as pd


GAP_TYPES = (np.uint8, np.uint16, np.uint32, np.int64)


def encode(ids: np.ndarray) -> bytes:
    """Sorted unique int64 ids -> bytes: count, first id, then the gaps in the narrowest type."""
    gaps = np.diff(ids)
    top = int(gaps.max()) if len(gaps) else 0
    kind = next(i for i, t in enumerate(GAP_TYPES) if top <= np.iinfo(t).max)
    head = np.array([len(ids), ids[0] if len(ids) else 0, kind], dtype=np.int64).tobytes()
    return zlib.compress(head + gaps.astype(GAP_TYPES[kind]).tobytes(), 6)


def decode(blob: bytes) -> np.ndarray:
    raw = zlib.decompress(blob)
    n, first, kind = np.frombuffer(raw[:24], dtype=np.int64)
    if n == 0:
        return np.empty(0, np.int64)
    gaps = np.frombuffer(raw[24:], dtype=GAP_TYPES[kind]).astype(np.int64)
    return np.concatenate([[first], first + np.cumsum(gaps)])


async def first_counts(conn, meter_ids: np.ndarray, step_end_s: np.ndarray) -> np.ndarray:
    """Mask of the readings not counted before (nor earlier in this batch); records them as counted.
    Call inside the transaction that adds the kept readings to the sums."""
    keep = np.zeros(len(meter_ids), dtype=bool)
    if not len(meter_ids):
        return keep
    steps = np.unique(step_end_s)
    times = [pd.Timestamp(int(s), unit="s", tz="UTC") for s in steps]
    cur = await conn.execute(
        "SELECT step_end, meter_ids FROM forecast.counted_readings WHERE step_end = ANY(%s) ORDER BY step_end FOR UPDATE",
        (times,))
    stored = {int(t.timestamp()): decode(blob) for t, blob in await cur.fetchall()}
    rows = []
    order = np.argsort(step_end_s, kind="stable")  # within a step, readings keep their arrival order
    bounds = np.searchsorted(step_end_s[order], steps, side="right")
    for step, when, lo, hi in zip(steps.tolist(), times, np.r_[0, bounds[:-1]], bounds):
        idx = order[lo:hi]
        ids, first = np.unique(meter_ids[idx], return_index=True)  # the first reading of each meter here
        old = stored.get(step, np.empty(0, np.int64))
        pos = np.searchsorted(old, ids)
        new = (pos >= len(old)) | (old[np.minimum(pos, len(old) - 1)] != ids) if len(old) else np.ones(len(ids), bool)
        if not new.any():
            continue
        keep[idx[first[new]]] = True
        rows.append((when, encode(np.insert(old, pos[new], ids[new]))))
    if rows:
        await conn.cursor().executemany(
            """INSERT INTO forecast.counted_readings VALUES (%s, %s)
               ON CONFLICT (step_end) DO UPDATE SET meter_ids = EXCLUDED.meter_ids""", rows)
    return keep
