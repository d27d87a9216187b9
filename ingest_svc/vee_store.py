"""Reads for the VEE job: meters in id order, and their stored readings of a window with quality.

Binary COPY parsed as whole numpy columns (meters.pgcopy), one chunk of meters at a time, so a
run over many meters never holds more than one chunk's history.
"""

from dataclasses import dataclass

import numpy as np
from psycopg import AsyncConnection, sql

from meters.pgcopy import read_copy_payload
from meters.timestamps import from_unix

# The quality method letter (A, S, E, ...) of each stored reading, as a number for binary COPY.
QUALITY_SQL = "ascii(quality)::int2"
READ_TYPES = ["int8", "timestamptz", "float8", "int2"]


@dataclass(frozen=True)
class StoredReadings:
    meter_ids: np.ndarray  # int64, ascending, each meter's rows in time order
    ends_s: np.ndarray
    kwh: np.ndarray
    quality: np.ndarray  # '<U1'

    def by_meter(self):
        """(meter id, its slice of the columns) for each meter present."""
        ids, starts = np.unique(self.meter_ids, return_index=True)
        bounds = np.append(starts, len(self.meter_ids))
        for k, m in enumerate(ids):
            yield int(m), slice(bounds[k], bounds[k + 1])

    def split(self, meters_per_part: int) -> list["StoredReadings"]:
        """Consecutive parts of at most `meters_per_part` meters each, in meter order (a meter's rows
        never split): the independent tasks of a chunk on Ray (ingest_svc/vee_job.py)."""
        _, starts = np.unique(self.meter_ids, return_index=True)
        cuts = [*starts[meters_per_part::meters_per_part], len(self.meter_ids)]
        parts, lo = [], 0
        for hi in cuts:
            rows = slice(lo, hi)
            parts.append(StoredReadings(self.meter_ids[rows], self.ends_s[rows], self.kwh[rows], self.quality[rows]))
            lo = hi
        return parts


async def meter_chunk(conn: AsyncConnection, after_id: int, limit: int) -> list[int]:
    cur = await conn.execute(
        "SELECT id FROM meters.smart_meters WHERE id > %s AND status = 'active' ORDER BY id LIMIT %s", [after_id, limit])
    return [r[0] for r in await cur.fetchall()]


async def read_readings(conn: AsyncConnection, meter_ids: list[int], start_s: int, end_s: int) -> StoredReadings:
    """Stored readings of `meter_ids` with start_s <= reading_time < end_s."""
    query = sql.SQL(
        "COPY (SELECT meter_id, reading_time, consumption_kwh, " + QUALITY_SQL + " FROM meters.meter_readings"
        " WHERE meter_id = ANY({}) AND reading_time >= {} AND reading_time < {}"
        " ORDER BY meter_id, reading_time) TO STDOUT (FORMAT BINARY)"
    ).format(sql.Literal(meter_ids), sql.Literal(from_unix(start_s)), sql.Literal(from_unix(end_s)))
    payload = bytearray()
    async with conn.cursor().copy(query) as copy:
        async for chunk in copy:
            payload += chunk
    ids, ends, kwh, quality = read_copy_payload(payload, READ_TYPES)
    return StoredReadings(ids, ends, kwh, quality.astype(np.uint8).view("S1").astype("<U1"))
