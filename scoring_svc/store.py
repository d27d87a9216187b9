"""PostgreSQL reads and writes of the `grid` and `ml` schemas (scoring_svc's own)."""

import datetime as dt
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from meters import tracing
from meters.audit import Change
from meters.errors import not_found
from meters.partitions import DailyPartitions


def finite_or_none(x) -> float | None:
    """A float for a JSON column: NaN and infinities become null."""
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass
class PredictionRow:
    """One row of ml.predictions (names as the plan's columns)."""

    asset_type: str
    asset_id: int
    prediction_type: str
    probability: float
    confidence: float
    at_risk: bool
    predicted_at: dt.datetime
    valid_until: dt.datetime | None
    anomaly_type: str | None = None
    severity: str | None = None
    details: dict = field(default_factory=dict)
    top_features: list = field(default_factory=list)
    model_version: str = ""
    id: int = 0
    created_at: dt.datetime | None = None


# |energy_kwh| of an hour beyond 10 x capacity_kva x 1 h is rejected: catches unit errors (Wh as kWh: 1000x);
# the fleet's planted overload hours reach 7.36 x (10,000 meters x 60 days, seed 42), so 3 or 5 would reject them
ENERGY_LIMIT_H = 10
_PRED_COLUMNS = ("asset_type, asset_id, prediction_type, probability, confidence, at_risk, predicted_at, valid_until,"
                 " anomaly_type, severity, details, top_features, model_version")


def _pred_values(p: PredictionRow) -> tuple:
    return (p.asset_type, p.asset_id, p.prediction_type, p.probability, p.confidence, p.at_risk, p.predicted_at,
            p.valid_until, p.anomaly_type, p.severity, json.dumps(p.details), json.dumps(p.top_features),
            p.model_version)


# Daily partitions of ml.predictions, created as predictions need them (migration 0003).
_PREDICTION_DAYS = DailyPartitions("ml.predictions")


async def _ensure_days(conn: AsyncConnection, rows: list[PredictionRow]) -> None:
    await _PREDICTION_DAYS.ensure(conn, {p.predicted_at.astimezone(dt.UTC).date() for p in rows})


def _pred_row(r) -> PredictionRow:
    return PredictionRow(*r[:8], r[8], r[9], r[10], r[11], r[12], r[13], r[14])


async def insert_predictions(conn: AsyncConnection, rows: list[PredictionRow]) -> list[PredictionRow]:
    """Insert predictions not stored yet (unique on asset, type, time); return those that were new, with ids."""
    if not rows:
        return []
    await _ensure_days(conn, rows)
    placeholders = ",".join(["(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s::jsonb,%s)"] * len(rows))
    cur = await conn.execute(
        f"INSERT INTO ml.predictions ({_PRED_COLUMNS}) VALUES {placeholders}"
        " ON CONFLICT (asset_type, asset_id, prediction_type, predicted_at) DO NOTHING"
        f" RETURNING {_PRED_COLUMNS}, id, created_at",
        [v for p in rows for v in _pred_values(p)],
    )
    return [_pred_row(r) for r in await cur.fetchall()]


async def upsert_prediction(conn: AsyncConnection, p: PredictionRow) -> PredictionRow:
    """Store a prediction; one made again for the same asset, type and time replaces the stored one."""
    await _ensure_days(conn, [p])
    cur = await conn.execute(
        f"INSERT INTO ml.predictions ({_PRED_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s::jsonb,%s)"
        " ON CONFLICT (asset_type, asset_id, prediction_type, predicted_at) DO UPDATE SET"
        " probability = excluded.probability, confidence = excluded.confidence, at_risk = excluded.at_risk,"
        " valid_until = excluded.valid_until, severity = excluded.severity, details = excluded.details,"
        " top_features = excluded.top_features, model_version = excluded.model_version"
        f" RETURNING {_PRED_COLUMNS}, id, created_at",
        _pred_values(p),
    )
    return _pred_row(await cur.fetchone())


async def enqueue_alerts(conn: AsyncConnection, alerts: list[tuple[str, bytes]]) -> None:
    """Add (dedup_key, serialized CreateAlertRequest) to the outbox, in the caller's transaction, with the
    current trace's traceparent for the delivery to continue."""
    if alerts:
        parent = tracing.traceparent()
        async with conn.cursor() as cur:
            await cur.executemany("INSERT INTO ml.alert_outbox (dedup_key, request, traceparent) VALUES (%s, %s, %s)",
                                  [(key, request, parent) for key, request in alerts])


@dataclass
class PredictionFilter:
    asset_type: str | None = None
    asset_id: int = 0
    prediction_type: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    min_probability: float = 0.0
    valid_only: bool = False


class ScoringStore:
    def __init__(self, pool: AsyncConnectionPool):
        self.pool = pool

    # --- topology -------------------------------------------------------------------------------
    async def create_substations(self, rows: list[tuple], audit: Change) -> int:
        """rows: (id, name, region, capacity_mva, status); return how many were new."""
        return await self._insert_new(
            "grid.substations", "INSERT INTO grid.substations (id, name, region, capacity_mva, status)"
            " VALUES (%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING", rows, audit)

    async def create_transformers(self, rows: list[tuple], audit: Change) -> int:
        """rows: (id, number, substation_id, region, capacity_kva, status, age_years, last_maintenance_at, feeder_id)."""
        return await self._insert_new(
            "grid.transformers", "INSERT INTO grid.transformers (id, transformer_number, substation_id, region,"
            " capacity_kva, status, age_years, last_maintenance_at, feeder_id) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT DO NOTHING", rows, audit)

    async def _insert_new(self, table: str, sql: str, rows: list[tuple], audit: Change) -> int:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            before = await self._count(conn, table)
            async with conn.cursor() as cur:
                await cur.executemany(sql, rows)
            created = await self._count(conn, table) - before
            await audit.record(conn, after={"requested": len(rows), "created": created,
                                            "already_existed": len(rows) - created})
            return created

    @staticmethod
    async def _count(conn, table: str) -> int:
        return (await (await conn.execute(f"SELECT count(*) FROM {table}")).fetchone())[0]

    async def connect_meters(self, meter_ids: np.ndarray, transformer_ids: np.ndarray, audit: Change) -> int:
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO grid.meter_connections (meter_id, transformer_id)"
                " SELECT * FROM unnest(%s::bigint[], %s::bigint[])"
                " ON CONFLICT (meter_id) DO UPDATE SET transformer_id = excluded.transformer_id",
                [meter_ids.tolist(), transformer_ids.tolist()])
            await audit.record(conn, after={"stored": cur.rowcount, "transformers": int(len(np.unique(transformer_ids)))})
            return cur.rowcount

    async def transformers_of(self, meter_ids: np.ndarray) -> np.ndarray:
        """The transformer of each meter (0 when not connected)."""
        uniq, inverse = np.unique(meter_ids, return_inverse=True)
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT m, coalesce(c.transformer_id, 0) FROM unnest(%s::bigint[]) WITH ORDINALITY u(m, i)"
                " LEFT JOIN grid.meter_connections c ON c.meter_id = u.m ORDER BY u.i", [uniq.tolist()])
            tx = np.array([r[1] for r in await cur.fetchall()], dtype=np.int64)
        return tx[inverse] if len(tx) else np.zeros(len(meter_ids), dtype=np.int64)

    # --- telemetry ------------------------------------------------------------------------------
    async def record_telemetry(self, cols: dict[str, np.ndarray]) -> tuple[int, int, int]:
        """Store hourly rows of known transformers (re-sent hours replace); update their latest load.

        energy_kwh (NaN: missing, stored NULL) beyond +-ENERGY_LIMIT_H x capacity_kva x 1 h, or infinite,
        is kept in energy_kwh_rejected with its reason. Returns (stored, unknown, energy rejected)."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                """WITH t AS (
                     SELECT t.*, CASE WHEN t.energy = 'NaN' THEN NULL
                       WHEN abs(t.energy) = 'Infinity' THEN 'not finite'
                       WHEN abs(t.energy) > %s::float8 * x.capacity_kva
                         THEN format('|energy_kwh| over %%s x capacity_kva (%%s kVA) x 1 h', %s::int, x.capacity_kva)
                       END AS reason
                     FROM unnest(%s::bigint[], %s::bigint[], %s::float8[], %s::float8[], %s::float8[],
                                 %s::float8[], %s::float8[], %s::float8[], %s::float8[])
                       AS t(tid, hour_s, load, peak, ambient, oil, winding, eff, energy)
                     JOIN grid.transformers x ON x.id = t.tid)
                   INSERT INTO grid.transformer_telemetry (transformer_id, hour_end, load_kva, peak_load_kva,
                     ambient_temp_c, oil_temp_c, winding_temp_c, efficiency, energy_kwh, energy_kwh_rejected,
                     energy_reject_reason)
                   SELECT tid, to_timestamp(hour_s), load, peak, ambient, oil, winding, eff,
                     CASE WHEN reason IS NULL THEN nullif(energy, 'NaN') END,
                     CASE WHEN reason IS NOT NULL THEN energy END, reason FROM t
                   ON CONFLICT (transformer_id, hour_end) DO UPDATE SET load_kva = excluded.load_kva,
                     peak_load_kva = excluded.peak_load_kva, ambient_temp_c = excluded.ambient_temp_c,
                     oil_temp_c = excluded.oil_temp_c, winding_temp_c = excluded.winding_temp_c,
                     efficiency = excluded.efficiency, energy_kwh = excluded.energy_kwh,
                     energy_kwh_rejected = excluded.energy_kwh_rejected,
                     energy_reject_reason = excluded.energy_reject_reason
                   RETURNING energy_reject_reason IS NOT NULL""",
                [ENERGY_LIMIT_H, ENERGY_LIMIT_H] + [cols[k].tolist() for k in (
                    "transformer_ids", "hour_end_unix_s", "load_kva", "peak_load_kva", "ambient_temp_c",
                    "oil_temp_c", "winding_temp_c", "efficiency", "energy_kwh")])
            flags = await cur.fetchall()
            stored, rejected = len(flags), sum(1 for (f,) in flags if f)
            await conn.execute(
                """UPDATE grid.transformers x SET current_load_kva = l.load_kva, oil_temp_c = l.oil_temp_c,
                          efficiency = l.efficiency, load_at = l.hour_end, updated_at = now()
                   FROM (SELECT DISTINCT ON (transformer_id) * FROM grid.transformer_telemetry
                         WHERE transformer_id = ANY(%s) ORDER BY transformer_id, hour_end DESC) l
                   WHERE x.id = l.transformer_id AND (x.load_at IS NULL OR l.hour_end >= x.load_at)""",
                [np.unique(cols["transformer_ids"]).tolist()])
        return stored, len(cols["transformer_ids"]) - stored, rejected

    async def telemetry(self, transformer_id: int, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT extract(epoch FROM hour_end)::bigint AS hour_end_unix_s, load_kva, peak_load_kva,"
                " ambient_temp_c, oil_temp_c, winding_temp_c, efficiency FROM grid.transformer_telemetry"
                " WHERE transformer_id = %s AND hour_end > %s AND hour_end <= %s ORDER BY hour_end",
                [transformer_id, start, end])
            rows = await cur.fetchall()
        return pd.DataFrame(rows, columns=["hour_end_unix_s", "load_kva", "peak_load_kva", "ambient_temp_c",
                                           "oil_temp_c", "winding_temp_c", "efficiency"], dtype=float)

    async def hourly_anomaly_counts(self, transformer_id: int, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
        """Anomalous readings of the transformer's meters per hour (hour_end_unix_s: the hour's end)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT ceil(extract(epoch FROM p.predicted_at) / 3600)::bigint * 3600 AS h, count(*)"
                " FROM ml.predictions p JOIN grid.meter_connections c ON c.meter_id = p.asset_id"
                " WHERE p.asset_type = 'smart_meter' AND p.prediction_type = 'reading_anomaly' AND p.at_risk"
                " AND c.transformer_id = %s AND p.predicted_at > %s AND p.predicted_at <= %s GROUP BY h",
                [transformer_id, start, end])
            rows = await cur.fetchall()
        return pd.DataFrame({"transformer_id": np.full(len(rows), transformer_id, dtype=np.int64),
                             "hour_end_unix_s": np.array([r[0] for r in rows], dtype=np.int64),
                             "anomaly_count": np.array([r[1] for r in rows], dtype=np.float64)})

    # --- transformers ---------------------------------------------------------------------------
    _TX = """x.id, x.transformer_number, coalesce(x.substation_id, 0), coalesce(x.region, ''), x.capacity_kva,
      coalesce(x.current_load_kva, 0), x.status, coalesce(x.age_years, 0), x.last_maintenance_at,
      (SELECT count(*) FROM grid.meter_connections c WHERE c.transformer_id = x.id),
      lp.id, coalesce(lp.probability, 0), coalesce(x.load_at, x.updated_at),
      x.oil_temp_c, x.efficiency"""
    _LATEST = """LEFT JOIN LATERAL (SELECT id, probability, at_risk FROM ml.predictions p
      WHERE p.asset_type = 'transformer' AND p.asset_id = x.id AND p.prediction_type = 'transformer_failure'
        AND (p.valid_until IS NULL OR p.valid_until > now())
      ORDER BY p.predicted_at DESC, p.id DESC LIMIT 1) lp ON true"""

    async def get_transformer(self, transformer_id: int) -> tuple:
        async with self.pool.connection() as conn:
            cur = await conn.execute(f"SELECT {self._TX} FROM grid.transformers x {self._LATEST} WHERE x.id = %s",
                                     [transformer_id])
            row = await cur.fetchone()
        if row is None:
            raise not_found("transformer", f"transformers/{transformer_id}")
        return row

    async def list_transformers(self, after: int, limit: int, substation_id: int, status: str | None,
                                at_risk_only: bool) -> list[tuple]:
        where, params = ["x.id > %s"], [after]
        if substation_id:
            where.append("x.substation_id = %s")
            params.append(substation_id)
        if status:
            where.append("x.status = %s")
            params.append(status)
        if at_risk_only:
            where.append("coalesce(lp.at_risk, false)")
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {self._TX} FROM grid.transformers x {self._LATEST} WHERE {' AND '.join(where)}"
                " ORDER BY x.id LIMIT %s", [*params, limit])
            return await cur.fetchall()

    async def transformer_facts(self, transformer_id: int) -> tuple[float, float, dt.datetime | None, str]:
        """capacity_kva, age_years, last_maintenance_at, status."""
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT capacity_kva, coalesce(age_years, 0), last_maintenance_at, status"
                                     " FROM grid.transformers WHERE id = %s", [transformer_id])
            row = await cur.fetchone()
        if row is None:
            raise not_found("transformer", f"transformers/{transformer_id}")
        return row

    # --- predictions ----------------------------------------------------------------------------
    async def list_predictions(self, f: PredictionFilter, after: tuple[int, int] | None, limit: int) -> list[PredictionRow]:
        where, params = [], []
        for column, value in (("asset_type", f.asset_type), ("prediction_type", f.prediction_type)):
            if value:
                where.append(f"{column} = %s")
                params.append(value)
        if f.asset_id:
            where.append("asset_id = %s")
            params.append(f.asset_id)
        if f.start:
            where.append("predicted_at >= %s")
            params.append(f.start)
        if f.end:
            where.append("predicted_at < %s")
            params.append(f.end)
        if f.min_probability:
            where.append("probability >= %s")
            params.append(f.min_probability)
        if f.valid_only:
            where.append("(valid_until IS NULL OR valid_until > now())")
        if after:
            where.append("(predicted_at, id) < (to_timestamp(%s / 1e6), %s)")
            params.extend(after)
        sql = (f"SELECT {_PRED_COLUMNS}, id, created_at FROM ml.predictions"
               f" {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY predicted_at DESC, id DESC LIMIT %s")
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, [*params, limit])
            return [_pred_row(r) for r in await cur.fetchall()]
