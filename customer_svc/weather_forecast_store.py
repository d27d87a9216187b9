"""customers.regional_weather_forecasts: weather forecasts per region from a provider's feed
(RecordRegionalWeatherForecasts), read by the forecast service (GetRegionalWeather) for the demand
forecast of a region: the latest issue whose valid times span the horizon."""

import datetime as dt
from dataclasses import dataclass

import numpy as np

from meters.audit import Change
from meters.errors import FieldViolation, invalid_argument
from meters.regions import REGIONS

MAX_VALUES = 100_000
MAX_SOURCE_CHARS = 64
# An issue time this far past the clock is a feed's error, and would shadow every later issue.
FUTURE_ISSUE_TOLERANCE = dt.timedelta(hours=1)
# Values returned around the horizon, so interpolation at its ends has neighbours.
MARGIN_S = 3600


@dataclass(frozen=True)
class Forecast:
    region: str
    source: str
    issued_unix_s: float  # 0 = unset
    valid_unix_s: list[int]
    temperature_c: list[float]


def validate(forecasts: list[Forecast], now: dt.datetime | None = None) -> None:
    now = now or dt.datetime.now(dt.timezone.utc)
    bad = []
    if not forecasts:
        bad.append(FieldViolation("forecasts", "at least one forecast is required"))
    if sum(len(f.valid_unix_s) for f in forecasts) > MAX_VALUES:
        bad.append(FieldViolation("forecasts", f"at most {MAX_VALUES:,} values per call"))
    latest = (now + FUTURE_ISSUE_TOLERANCE).timestamp()
    for i, f in enumerate(forecasts):
        at = f"forecasts[{i}]"
        if f.region not in REGIONS:
            bad.append(FieldViolation(f"{at}.region", f"a NEM region code: {', '.join(REGIONS)}"))
        if not f.source or len(f.source) > MAX_SOURCE_CHARS:
            bad.append(FieldViolation(f"{at}.source", f"required, at most {MAX_SOURCE_CHARS} characters"))
        if f.issued_unix_s <= 0:
            bad.append(FieldViolation(f"{at}.issue_time", "required"))
        elif f.issued_unix_s > latest:
            bad.append(FieldViolation(f"{at}.issue_time", "must not be more than an hour after now"))
        if not f.valid_unix_s or len(f.valid_unix_s) != len(f.temperature_c):
            bad.append(FieldViolation(f"{at}.valid_time_unix_s",
                                      "at least one value, as many as temperature_c"))
        elif len(set(f.valid_unix_s)) != len(f.valid_unix_s):
            bad.append(FieldViolation(f"{at}.valid_time_unix_s", "each valid time at most once"))
        t = np.asarray(f.temperature_c, dtype=np.float64)
        if len(t) and not (np.isfinite(t) & (t > -60) & (t < 70)).all():
            bad.append(FieldViolation(f"{at}.temperature_c", "every value must be a finite temperature between -60 and 70"))
    if bad:
        raise invalid_argument("invalid regional weather forecasts", *bad[:100])


async def record(pool, forecasts: list[Forecast], audit: Change) -> int:
    rows = [(f.region, f.issued_unix_s, f.source, v, t)
            for f in forecasts for v, t in zip(f.valid_unix_s, f.temperature_c)]
    async with pool.connection() as conn, conn.transaction():
        async with conn.cursor() as cur:
            await cur.executemany(
                """INSERT INTO customers.regional_weather_forecasts (region, issued_at, source, valid_time, temperature_c)
                   VALUES (%s, to_timestamp(%s), %s, to_timestamp(%s), %s)
                   ON CONFLICT (region, issued_at, source, valid_time)
                   DO UPDATE SET temperature_c = EXCLUDED.temperature_c""", rows)
        await audit.record(conn, after={
            "forecasts": len(forecasts), "values": len(rows), "regions": sorted({f.region for f in forecasts}),
            "sources": sorted({f.source for f in forecasts}),
            "issued_unix_s": sorted({int(f.issued_unix_s) for f in forecasts})[:20]})
    return len(rows)


async def latest_covering(conn, region: str, start_unix_s: int, end_unix_s: int) -> Forecast | None:
    """The newest issue (then source) whose valid times reach from start to end, its values within
    MARGIN_S of the span; None when no issue spans it."""
    cur = await conn.execute(
        """SELECT issued_at, source FROM customers.regional_weather_forecasts
           WHERE region = %(r)s AND valid_time <= to_timestamp(%(end)s) + interval '1 day'
             AND valid_time >= to_timestamp(%(start)s) - interval '1 day'
           GROUP BY issued_at, source
           HAVING min(valid_time) <= to_timestamp(%(start)s) AND max(valid_time) >= to_timestamp(%(end)s)
           ORDER BY issued_at DESC, source LIMIT 1""", {"r": region, "start": start_unix_s, "end": end_unix_s})
    found = await cur.fetchone()
    if found is None:
        return None
    issued, source = found
    cur = await conn.execute(
        """SELECT extract(epoch FROM valid_time)::bigint, temperature_c FROM customers.regional_weather_forecasts
           WHERE region = %s AND issued_at = %s AND source = %s
             AND valid_time BETWEEN to_timestamp(%s) AND to_timestamp(%s) ORDER BY valid_time""",
        [region, issued, source, start_unix_s - MARGIN_S, end_unix_s + MARGIN_S])
    rows = await cur.fetchall()
    return Forecast(region, source, issued.timestamp(), [r[0] for r in rows], [r[1] for r in rows])
