"""PostgreSQL side of outage detection: the topology it correlates over, the outages it decides, planned
work, its checkpoint, and the alerts it raises and resolves (ml.alert_outbox, in the same transaction).

An outage is keyed by (level, asset, start): a replay after a restart re-derives the same decisions,
which land on that key and change nothing, so neither an outage nor its alert is ever doubled.
"""

import datetime as dt
import json
import zlib

import numpy as np
import pandas as pd
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from meters import tracing
from meters.alert.v1 import alert_pb2, alert_service_pb2
from meters.audit import Change
from meters.timestamps import from_unix, to_proto
from scoring_svc.outages.records import OutageClosed, OutageOpened

NOTIFY_CHANNEL = "outages_changed"
SEVERITY = {"feeder": alert_pb2.SEVERITY_CRITICAL, "transformer": alert_pb2.SEVERITY_WARNING,
            "meter": alert_pb2.SEVERITY_INFO}
ASSET_TYPE = {"feeder": alert_pb2.ASSET_TYPE_NETWORK, "transformer": alert_pb2.ASSET_TYPE_TRANSFORMER,
              "meter": alert_pb2.ASSET_TYPE_SMART_METER}
COLUMNS = ("outage_id, level, asset_id, region, substation_id, feeder_id, transformer_id, started_at, restored_at,"
           " customers_affected, planned, announced_at, momentary, cause, detected_from, restored_from, opened_at,"
           " closed_at, sequence")


def alert_dedup_key(outage_id: int) -> str:
    return f"outage/{outage_id}"


def _alert_request(outage_id: int, opened: OutageOpened, place: dict) -> alert_service_pb2.CreateAlertRequest:
    what = {"feeder": f"feeder {opened.asset_id}", "transformer": f"transformer {opened.asset_id}",
            "meter": "a single premise"}[opened.level]
    alert = alert_pb2.Alert(
        title=f"Supply outage: {what}, {opened.customers_affected} customers off supply",
        description=(f"outages/{outage_id}: {opened.level} outage detected from {opened.detected_from}"
                     f"{' (planned work)' if opened.planned else ''}; region {place['region']}, substation "
                     f"{place['substation_id']}, feeder {place['feeder_id']}."),
        severity=SEVERITY[opened.level], source=alert_pb2.ALERT_SOURCE_OUTAGE_DETECTION,
        asset_type=ASSET_TYPE[opened.level], asset_id=opened.asset_id if opened.level != "meter" else 0,
        dedup_key=alert_dedup_key(outage_id), detected_at=to_proto(from_unix(opened.started_unix_s)),
        labels={"outage": f"outages/{outage_id}", "level": opened.level, "feeder_id": str(place["feeder_id"]),
                "planned": str(opened.planned).lower()})
    return alert_service_pb2.CreateAlertRequest(alert=alert)


def _resolve_request(outage_id: int, closed: OutageClosed) -> alert_service_pb2.ResolveAlertRequest:
    return alert_service_pb2.ResolveAlertRequest(
        dedup_key=alert_dedup_key(outage_id), resolved_by="scoring_svc/outage-detector",
        resolution_note=f"supply restored (from {closed.restored_from})")


class OutageStore:
    def __init__(self, pool: AsyncConnectionPool):
        self.pool = pool

    # --- topology ---------------------------------------------------------------------------
    async def topology(self) -> dict[str, pd.DataFrame] | None:
        """The network as the detector's tables, or None while no meter is connected. A transformer without
        a feeder gets its own pseudo feeder (-transformer_id), so its outages stop at the transformer."""
        async with self.pool.connection() as conn:
            meters = await (await conn.execute(
                "SELECT meter_id, transformer_id FROM grid.meter_connections ORDER BY meter_id")).fetchall()
            txs = await (await conn.execute(
                "SELECT id, COALESCE(feeder_id, -id), COALESCE(substation_id, 0) FROM grid.transformers ORDER BY id"
            )).fetchall()
            subs = await (await conn.execute(
                "SELECT id, COALESCE(region, '') FROM grid.substations ORDER BY id")).fetchall()
        if not meters or not txs:
            return None
        substations = pd.DataFrame(subs, columns=["substation_id", "region"])
        if not (substations["substation_id"] == 0).any():  # transformers registered without a substation
            substations = pd.concat([substations, pd.DataFrame({"substation_id": [0], "region": [""]})])
        return {"meters": pd.DataFrame(meters, columns=["meter_id", "transformer_id"]),
                "transformers": pd.DataFrame(txs, columns=["transformer_id", "feeder_id", "substation_id"]),
                "substations": substations}

    async def topology_version(self) -> tuple[int, int, int]:
        """Counts that change when the network does (connections, transformers with their feeders)."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT (SELECT count(*) FROM grid.meter_connections), (SELECT count(*) FROM grid.transformers),"
                " (SELECT count(feeder_id) FROM grid.transformers)")).fetchone()
        return tuple(int(v) for v in row)

    async def create_feeders(self, rows: list[tuple], audit: Change) -> int:
        """rows: (id, substation_id, name); return how many were new."""
        ids, substations, names = (list(c) for c in zip(*rows)) if rows else ([], [], [])
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO grid.feeders (id, substation_id, name)"
                " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[]) ON CONFLICT DO NOTHING",
                [ids, substations, names])
            created = cur.rowcount
            await audit.record(conn, after={"requested": len(rows), "created": created})
            return created

    # --- planned work -----------------------------------------------------------------------
    async def create_planned_work(self, level: str, asset_id: int, start: dt.datetime, end: dt.datetime,
                                  description: str, audit: Change) -> dict:
        async with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "INSERT INTO grid.planned_work (level, asset_id, start_time, end_time, description)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING *", [level, asset_id, start, end, description])
            row = await cur.fetchone()
            await audit.record(conn, after={"planned_work_id": row["id"], "level": level, "asset_id": asset_id,
                                            "start": start.isoformat(), "end": end.isoformat()})
            return row

    async def list_planned_work(self, ends_after: dt.datetime | None, after_id: int, limit: int) -> list[dict]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT * FROM grid.planned_work WHERE (%s::timestamptz IS NULL OR end_time >= %s) AND id > %s"
                " ORDER BY id LIMIT %s", [ends_after, ends_after, after_id, limit])
            return await cur.fetchall()

    async def planned_work_since(self, after_id: int) -> pd.DataFrame:
        """Registrations after id `after_id`, as the detector's planned-work table (announced = registered)."""
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT id, level, asset_id, extract(epoch FROM start_time)::bigint, extract(epoch FROM end_time)::bigint,"
                " extract(epoch FROM created_at)::bigint FROM grid.planned_work WHERE id > %s ORDER BY id",
                [after_id])).fetchall()
        return pd.DataFrame(rows, columns=["id", "level", "asset_id", "start_unix_s", "end_unix_s", "announced_unix_s"])

    # --- decisions --------------------------------------------------------------------------
    async def record(self, conn, decisions: list, outage_ids: dict[int, int], detector) -> int:
        """Store the detector's decisions on `conn` (inside the caller's transaction) with their alert
        outbox rows; `outage_ids` maps the detector's ids to stored ones and is updated. Returns changes."""
        changes = 0
        for d in decisions:
            if isinstance(d, OutageOpened):
                changes += await self._opened(conn, d, outage_ids, detector)
            elif isinstance(d, OutageClosed) and d.outage_id in outage_ids:
                changes += await self._closed(conn, d, outage_ids.pop(d.outage_id))
        if changes:
            await conn.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
        return changes

    async def _opened(self, conn, d: OutageOpened, outage_ids: dict[int, int], detector) -> int:
        place = detector.net.place(d.level, d.asset_id)
        place["feeder_id"] = max(place["feeder_id"], 0)
        announced = detector.outage_row(d.outage_id)["announced_unix_s"]
        cur = await conn.execute(
            """INSERT INTO grid.outages (level, asset_id, region, substation_id, feeder_id, transformer_id, started_at,
                 customers_affected, planned, announced_at, cause, detected_from, opened_at, sequence)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, nextval('grid.outage_change_seq'))
               ON CONFLICT (level, asset_id, started_at) DO UPDATE SET level = excluded.level
               RETURNING outage_id, (xmax = 0) AS inserted""",
            [d.level, d.asset_id, place["region"] or None, place["substation_id"], place["feeder_id"] or None,
             place["transformer_id"] or None, from_unix(d.started_unix_s), d.customers_affected, d.planned,
             from_unix(announced) if announced else None, "planned" if d.planned else "unknown", d.detected_from,
             from_unix(d.opened_unix_s)])
        outage_id, inserted = await cur.fetchone()
        outage_ids[d.outage_id] = outage_id
        if not inserted:
            return 0
        meters = detector.meters_of_outage(d.outage_id)
        await conn.execute("INSERT INTO grid.outage_meters SELECT %s, unnest(%s::bigint[]) ON CONFLICT DO NOTHING",
                           [outage_id, meters.tolist()])
        await self._outbox(conn, alert_dedup_key(outage_id), "create", _alert_request(outage_id, d, place))
        return 1

    async def _closed(self, conn, d: OutageClosed, outage_id: int) -> int:
        cur = await conn.execute(
            """UPDATE grid.outages SET restored_at = %s, momentary = %s, restored_from = %s, closed_at = %s,
                 sequence = nextval('grid.outage_change_seq') WHERE outage_id = %s AND restored_at IS NULL""",
            [from_unix(d.restored_unix_s), d.momentary, d.restored_from, from_unix(d.closed_unix_s), outage_id])
        if not cur.rowcount:
            return 0
        await self._outbox(conn, alert_dedup_key(outage_id), "resolve", _resolve_request(outage_id, d))
        return 1

    @staticmethod
    async def _outbox(conn, dedup_key: str, kind: str, request) -> None:
        await conn.execute(
            "INSERT INTO ml.alert_outbox (dedup_key, kind, request, traceparent) VALUES (%s, %s, %s, %s)",
            [dedup_key, kind, request.SerializeToString(), tracing.traceparent()])

    # --- checkpoint -------------------------------------------------------------------------
    async def save_checkpoint(self, conn, snapshot: bytes, offsets: dict[int, int]) -> None:
        await conn.execute(
            """INSERT INTO grid.outage_detector_state (id, snapshot, offsets, saved_at) VALUES (1, %s, %s, now())
               ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot, offsets = excluded.offsets,
                 saved_at = excluded.saved_at""",
            [zlib.compress(snapshot, 1), json.dumps({str(p): o for p, o in offsets.items()})])

    async def load_checkpoint(self) -> tuple[bytes, dict[int, int]] | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT snapshot, offsets FROM grid.outage_detector_state WHERE id = 1")).fetchone()
        if row is None:
            return None
        return zlib.decompress(bytes(row[0])), {int(p): int(o) for p, o in row[1].items()}

    # --- reads ------------------------------------------------------------------------------
    async def list_outages(self, where: list[str], params: list, after: tuple[dt.datetime, int] | None,
                           limit: int) -> list[dict]:
        """Newest started first, keyset-paged on (started_at, outage_id)."""
        where = list(where)
        if after:
            where.append("(started_at, outage_id) < (%s, %s)")
            params = [*params, *after]
        sql = (f"SELECT {COLUMNS} FROM grid.outages {'WHERE ' + ' AND '.join(where) if where else ''}"
               " ORDER BY started_at DESC, outage_id DESC LIMIT %s")
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql, [*params, limit])
            return await cur.fetchall()

    async def get(self, outage_id: int) -> tuple[dict, np.ndarray] | None:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT {COLUMNS} FROM grid.outages WHERE outage_id = %s", [outage_id])
            row = await cur.fetchone()
            if row is None:
                return None
            meters = await (await conn.execute(
                "SELECT meter_id FROM grid.outage_meters WHERE outage_id = %s ORDER BY meter_id", [outage_id])).fetchall()
        return row, np.array([m[0] for m in meters], np.int64)

    async def changes_after(self, sequence: int, limit: int) -> list[dict]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT {COLUMNS} FROM grid.outages WHERE sequence > %s ORDER BY sequence LIMIT %s",
                              [sequence, limit])
            return await cur.fetchall()

    async def last_sequence(self) -> int:
        async with self.pool.connection() as conn:
            row = await (await conn.execute("SELECT COALESCE(max(sequence), 0) FROM grid.outages")).fetchone()
        return int(row[0])
