"""Actual demand from the reading stream: consumer group `forecast` on meter-readings sums each
15-minute step's metered demand per scope (network, region, substation, transformer) into
forecast.demand_actuals and copies the sums into stored forecasts.

Replays are harmless: the next offset of each partition is stored in the same transaction as the
sums, and records below it are skipped; Kafka offsets are committed only after that commit. A
reading re-sent through ingest (a new message) is counted once: counted.py keeps which meters each
step already holds, in the same transaction.
Meters without a registered placement count toward the network only.
"""

import asyncio
import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from forecast_svc import counted
from forecast_svc.scopes import SCOPE_CODES
from forecast_svc.store import ForecastStore
from meters import kafka, tracing
from meters.readings import ReadingColumns, from_accepted

log = logging.getLogger(__name__)
STEP_S = 900
PLACEMENT_RELOAD_S = 5.0


class Placements:
    """meter id -> (transformer, substation, region), reloaded when unknown meters show up."""

    def __init__(self, store: ForecastStore):
        self.store = store
        self.table = pd.DataFrame(columns=["transformer_id", "substation_id", "region"])
        self.loaded_at = 0.0

    def invalidate(self) -> None:
        """New placements were registered: reload on the next unknown meter, without waiting out the throttle."""
        self.loaded_at = 0.0

    async def lookup(self, meter_ids: np.ndarray) -> pd.DataFrame:
        known = self.table.reindex(meter_ids)
        if known["region"].isna().any() and time.monotonic() - self.loaded_at > PLACEMENT_RELOAD_S:
            self.table = (await self.store.meter_scopes()).set_index("meter_id")
            self.loaded_at = time.monotonic()
            known = self.table.reindex(meter_ids)
        return known


def countable(cols: ReadingColumns) -> np.ndarray:
    """Readings that add to demand: finite and not negative (ingest rejects negative ones)."""
    return np.isfinite(cols.demand_kw) & (cols.demand_kw >= 0)


def step_ends(cols: ReadingColumns) -> np.ndarray:
    """Each reading's interval end on the 15-minute grid (unix s)."""
    return -(-cols.reading_times_unix_s // STEP_S) * STEP_S


def aggregate(cols: ReadingColumns, placement: pd.DataFrame) -> pd.DataFrame:
    """Rows (scope, scope_id, step_end_unix_s, demand_mw, readings) for one batch of readings."""
    ok = countable(cols)
    step = step_ends(cols)[ok]
    base = pd.DataFrame({"step": step, "mw": cols.demand_kw[ok] / 1000.0,
                         "region": placement["region"].to_numpy()[ok],
                         "substation": placement["substation_id"].to_numpy()[ok],
                         "transformer": placement["transformer_id"].to_numpy()[ok]})
    parts = []
    for scope, column in (("network", None), ("region", "region"), ("substation", "substation"),
                          ("transformer", "transformer")):
        df = base if column is None else base.dropna(subset=[column])
        key = "" if column is None else df[column].map(lambda v: str(int(v)) if not isinstance(v, str) else v)
        g = df.assign(scope_id=key).groupby(["scope_id", "step"])["mw"].agg(["sum", "count"]).reset_index()
        g.insert(0, "scope", SCOPE_CODES[scope])
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


async def apply(store: ForecastStore, placements: Placements, records) -> int:
    """Apply one poll's records in one transaction; returns the readings counted."""
    async with store.pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT kafka_partition, next_offset FROM forecast.consumer_positions WHERE topic = %s FOR UPDATE",
            (kafka.READINGS_TOPIC,))
        positions = dict(await cur.fetchall())
        fresh = [r for r in records if r.offset >= positions.get(r.partition, 0)]
        if not fresh:
            return 0
        cols = ReadingColumns.concat([from_accepted(r.value)[0] for r in fresh])
        ok = np.flatnonzero(countable(cols))
        first = await counted.first_counts(conn, cols.meter_ids[ok], step_ends(cols)[ok])
        cols = cols.take(ok[first])
        rows = aggregate(cols, await placements.lookup(cols.meter_ids))
        await conn.execute("""CREATE TEMP TABLE IF NOT EXISTS actuals_in (scope smallint, scope_id text,
                              step_end timestamptz, demand_mw float8, readings int) ON COMMIT DELETE ROWS""")
        async with conn.cursor().copy("COPY actuals_in FROM STDIN") as copy:
            for scope, scope_id, step, mw, n in rows.itertuples(index=False):
                await copy.write_row((scope, scope_id, pd.Timestamp(int(step), unit="s", tz="UTC"), mw, n))
        await conn.execute(
            """INSERT INTO forecast.demand_actuals SELECT * FROM actuals_in
               ON CONFLICT (scope, scope_id, step_end) DO UPDATE SET
                 demand_mw = demand_actuals.demand_mw + EXCLUDED.demand_mw,
                 readings = demand_actuals.readings + EXCLUDED.readings""")
        await conn.execute(
            """UPDATE forecast.demand_forecasts f SET actual_demand_mw = a.demand_mw
               FROM actuals_in i JOIN forecast.demand_actuals a USING (scope, scope_id, step_end)
               WHERE f.scope = i.scope AND f.scope_id = i.scope_id AND f."timestamp" = i.step_end""")
        last: dict[int, int] = {}
        for r in fresh:
            last[r.partition] = max(last.get(r.partition, 0), r.offset + 1)
        await conn.cursor().executemany(
            """INSERT INTO forecast.consumer_positions VALUES (%s, %s, %s)
               ON CONFLICT (topic, kafka_partition) DO UPDATE SET next_offset = EXCLUDED.next_offset""",
            [(kafka.READINGS_TOPIC, p, o) for p, o in last.items()])
        return len(cols)


async def consume(store: ForecastStore, placements: Placements, bootstrap: str, group_id: str,
                  on_applied: Callable[[], None] | None = None) -> None:
    """Run until cancelled; `on_applied` is called after each poll whose sums were committed."""
    consumer = kafka.consumer(bootstrap, group_id, kafka.READINGS_TOPIC)
    await consumer.start()
    try:
        while True:
            polled = await consumer.getmany(timeout_ms=500, max_records=200)
            records = [rec for recs in polled.values() for rec in recs]
            if not records:
                continue
            with tracing.batch_span("forecast.count_actuals", tracing.sampled_contexts(records), records=len(records)):
                counted = await apply(store, placements, records)
            # Only now that the sums are committed may Kafka forget the messages.
            await kafka.commit_stored(consumer, {tp: recs[-1].offset + 1 for tp, recs in polled.items()})
            if counted and on_applied is not None:
                on_applied()
            log.debug("actuals", extra={"fields": {"readings": counted}})
    except asyncio.CancelledError:
        raise
    finally:
        await consumer.stop()
