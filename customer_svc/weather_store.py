"""customers.regional_weather: writes from RecordRegionalWeather, reads for segmentation and
GetRegionalWeather (the forecast service)."""

import numpy as np

from customer_svc import summary_store
from meters.audit import Change
from meters.errors import FieldViolation, invalid_argument

MAX_ROWS = 100_000


def validate(regions: list[str], hours: list[int], temps: list[float]) -> None:
    bad = []
    if not (len(regions) == len(hours) == len(temps)):
        bad.append(FieldViolation("hour_start_unix_s", "regions, hour_start_unix_s and temperature_c must be equally long"))
    if len(regions) > MAX_ROWS:
        bad.append(FieldViolation("regions", f"at most {MAX_ROWS:,} rows per call"))
    if any(not r or len(r) > 8 for r in regions):
        bad.append(FieldViolation("regions", "every region is required, at most 8 characters"))
    if any(h % 3600 for h in hours):
        bad.append(FieldViolation("hour_start_unix_s", "every value must be a whole UTC hour"))
    t = np.asarray(temps, dtype=np.float64)
    if len(t) and not (np.isfinite(t) & (t > -60) & (t < 70)).all():
        bad.append(FieldViolation("temperature_c", "every value must be a finite temperature between -60 and 70"))
    if bad:
        raise invalid_argument("invalid regional weather", *bad)


async def record(pool, regions: list[str], hours: list[int], temps: list[float], audit: Change) -> int:
    async with pool.connection() as conn, conn.transaction():
        async with conn.cursor() as cur:
            await cur.executemany(
                """INSERT INTO customers.regional_weather (region, hour_start, temperature_c)
                   VALUES (%s, to_timestamp(%s), %s)
                   ON CONFLICT (region, hour_start) DO UPDATE SET temperature_c = EXCLUDED.temperature_c""",
                list(zip(regions, hours, temps)))
        months = summary_store.months_of_hours(np.asarray(hours, dtype=np.int64))
        await summary_store.bump(conn, months)
        await summary_store.mark_weather_refold(conn, months, list(regions), [int(h) for h in hours])
        await audit.record(conn, after={"hours": len(regions), "regions": sorted(set(regions)),
                                        "first_hour_unix_s": min(hours, default=0), "last_hour_unix_s": max(hours, default=0)})
    return len(regions)


async def load(conn, start_unix_s: int, end_unix_s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(region, UTC hour start, degC) rows in [start, end)."""
    cur = await conn.execute(
        """SELECT region, extract(epoch FROM hour_start)::bigint, temperature_c FROM customers.regional_weather
           WHERE hour_start >= to_timestamp(%s) AND hour_start < to_timestamp(%s)""", [start_unix_s, end_unix_s])
    rows = await cur.fetchall()
    return (np.array([r[0] for r in rows], dtype=object), np.array([r[1] for r in rows], dtype=np.int64),
            np.array([r[2] for r in rows], dtype=np.float64))


async def load_region(conn, region: str, start_unix_s: int, end_unix_s: int) -> tuple[list[int], list[float]]:
    """One region's observed (UTC hour start, degC) in [start, end), in time order."""
    cur = await conn.execute(
        """SELECT extract(epoch FROM hour_start)::bigint, temperature_c FROM customers.regional_weather
           WHERE region = %s AND hour_start >= to_timestamp(%s) AND hour_start < to_timestamp(%s)
           ORDER BY hour_start""", [region, start_unix_s, end_unix_s])
    rows = await cur.fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]
