"""Where a report's outages and customers served come from: a fleet's parquet files or PostgreSQL.

PostgreSQL (scoring_svc/migrations/scoring_0004_outages.sql, written by the outage detector):
grid.outages with started_at / restored_at TIMESTAMPTZ; customers served counted per feeder from
grid.meter_connections -> grid.transformers (feeder_id) -> grid.feeders -> grid.substations (region).
"""

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from scoring_svc.reliability.events import OUTAGE_COLUMNS, Month
from scoring_svc.reliability.major_events import HISTORY_YEARS
from scoring_svc.reliability.served import read_topology

OUTAGES_SQL = """
SELECT outage_id, level, asset_id, region, substation_id, feeder_id, transformer_id,
       EXTRACT(EPOCH FROM started_at)::double precision AS started_unix_s,
       EXTRACT(EPOCH FROM restored_at)::double precision AS restored_unix_s,
       customers_affected, planned, momentary, cause
FROM grid.outages
WHERE started_at >= %(history_start)s AND started_at < %(month_end)s
ORDER BY started_at, outage_id
"""
SERVED_SQL = """
SELECT s.region, f.substation_id, t.feeder_id, count(*) AS customers
FROM grid.meter_connections mc
JOIN grid.transformers t ON t.id = mc.transformer_id
JOIN grid.feeders f ON f.id = t.feeder_id
JOIN grid.substations s ON s.id = f.substation_id
GROUP BY s.region, f.substation_id, t.feeder_id
ORDER BY t.feeder_id
"""
SERVED_COLUMNS = ("region", "substation_id", "feeder_id", "customers")


def _unix(outages: pd.DataFrame) -> pd.DataFrame:
    """started_at / restored_at timestamps, where given instead, as *_unix_s seconds."""
    for name in ("started", "restored"):
        if f"{name}_unix_s" not in outages and f"{name}_at" in outages:
            at = pd.to_datetime(outages[f"{name}_at"], utc=True)
            outages[f"{name}_unix_s"] = (at - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return outages


def read_outages(path: Path) -> pd.DataFrame:
    """Outages from a parquet file (the fleet's truth/outages.parquet, or a detector's export)."""
    return _unix(pq.read_table(Path(path)).to_pandas())


def read_served(path: Path) -> pd.DataFrame:
    """Customers served from a fleet directory, its topology/ directory, or one parquet table of served rows."""
    path = Path(path)
    return pq.read_table(path).to_pandas() if path.is_file() else read_topology(path)


def _window(month: Month) -> dict:
    window = {"history_start": month.end - pd.DateOffset(years=HISTORY_YEARS), "month_end": month.end}
    return {k: v.to_pydatetime() for k, v in window.items()}


def _frames(outage_rows: list, served_rows: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    outages = pd.DataFrame(outage_rows, columns=list(OUTAGE_COLUMNS))
    served = pd.DataFrame(served_rows, columns=list(SERVED_COLUMNS))
    for col in ("substation_id", "feeder_id", "customers"):
        served[col] = served[col].astype("int64")
    return outages, served


def read_postgres(dsn: str, month: Month) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(outages of the five years up to the month's end, customers served per feeder) from PostgreSQL."""
    import psycopg

    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(OUTAGES_SQL, _window(month))
        outages = cur.fetchall()
        cur.execute(SERVED_SQL)
        return _frames(outages, cur.fetchall())


async def read_postgres_pool(pool, month: Month) -> tuple[pd.DataFrame, pd.DataFrame]:
    """read_postgres over an async connection pool (the servicer's), in one read-only snapshot."""
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        await cur.execute(OUTAGES_SQL, _window(month))
        outages = await cur.fetchall()
        await cur.execute(SERVED_SQL)
        return _frames(outages, await cur.fetchall())
