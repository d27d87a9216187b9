"""The `forecast` schema: meter placements, measured demand, stored runs, model versions."""

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from psycopg_pool import AsyncConnectionPool

from forecast_svc.accuracy import coverage, mape_percent, within_5pct
from forecast_svc.scopes import SCOPE_CODES
from meters.audit import Change


@dataclass
class Point:
    time: dt.datetime
    predicted_mw: float
    lower_mw: float
    upper_mw: float
    actual_mw: float | None = None


@dataclass
class Run:
    id: int
    scope: str
    scope_id: str
    start_time: dt.datetime
    horizon_hours: int
    interval_level: float
    model_version: str
    issued_at: dt.datetime
    points: list[Point] = field(default_factory=list)
    accuracy: dict[str, float] = field(default_factory=dict)
    # The model's forecast x level_scale = the answer (level.py); None: no actuals to check it against.
    level_scale: float | None = None
    # The weather forecast it used (forecast_svc/weather_inputs.py; ForecastRun.weather).
    weather: str = ""


ACCURACY_SQL = """
  count(actual_demand_mw) AS n,
  avg((abs(predicted_demand_mw - actual_demand_mw) <= 0.05 * abs(actual_demand_mw))::int) AS within,
  100 * avg(abs(predicted_demand_mw - actual_demand_mw) / nullif(abs(actual_demand_mw), 0)) AS mape,
  avg((actual_demand_mw BETWEEN confidence_lower AND confidence_upper)::int) AS coverage"""
SCOPE_NAMES = {v: k for k, v in SCOPE_CODES.items()}


def run_accuracy(points: list[Point]) -> dict[str, float]:
    """The stored run's accuracy figures (as ACCURACY_SQL computes them) from points in memory."""
    done = [p for p in points if p.actual_mw is not None]
    if not done:
        return {"steps_with_actuals": 0, "within_5pct": 0.0, "mape": 0.0, "coverage": 0.0}
    pred, actual = [p.predicted_mw for p in done], [p.actual_mw for p in done]
    return {"steps_with_actuals": len(done), "within_5pct": within_5pct(pred, actual),
            "mape": mape_percent(pred, actual) if any(a != 0 for a in actual) else 0.0,
            "coverage": coverage([p.lower_mw for p in done], [p.upper_mw for p in done], actual)}


class ForecastStore:
    def __init__(self, pool: AsyncConnectionPool):
        self.pool = pool

    async def upsert_meter_scopes(self, rows: list[tuple[int, int, int, str]], audit: Change) -> int:
        async with self.pool.connection() as conn, conn.transaction():
            async with conn.cursor() as cur:
                await cur.executemany(
                    """INSERT INTO forecast.meter_scopes VALUES (%s, %s, %s, %s)
                       ON CONFLICT (meter_id) DO UPDATE SET transformer_id = EXCLUDED.transformer_id,
                         substation_id = EXCLUDED.substation_id, region = EXCLUDED.region""", rows)
            await audit.record(conn, after={"stored": len(rows), "regions": sorted({r[3] for r in rows})})
        return len(rows)

    async def meter_scopes(self) -> pd.DataFrame:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT meter_id, transformer_id, substation_id, region FROM forecast.meter_scopes")
            rows = await cur.fetchall()
        return pd.DataFrame(rows, columns=["meter_id", "transformer_id", "substation_id", "region"])

    async def region_of(self, scope: str, scope_id: str) -> str | None:
        column = {"substation": "substation_id", "transformer": "transformer_id"}[scope]
        async with self.pool.connection() as conn:
            cur = await conn.execute(f"SELECT region FROM forecast.meter_scopes WHERE {column} = %s LIMIT 1",
                                     (int(scope_id),))
            row = await cur.fetchone()
        return row[0] if row else None

    async def history(self, scope: str, scope_id: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
        """Measured demand (ds, y) of a scope in [start, end]."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT step_end, demand_mw FROM forecast.demand_actuals
                   WHERE scope = %s AND scope_id = %s AND step_end BETWEEN %s AND %s ORDER BY step_end""",
                (SCOPE_CODES[scope], scope_id, start, end))
            rows = await cur.fetchall()
        return pd.DataFrame({"ds": pd.to_datetime([r[0] for r in rows], utc=True),
                             "y": np.array([r[1] for r in rows], dtype=float)})

    async def find_run(self, scope: str, scope_id: str, start: dt.datetime, horizon_hours: int,
                       weather: str | None = None) -> int | None:
        """The newest stored run covering the request; with `weather`, only one that used that weather."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT id FROM forecast.forecast_runs WHERE scope = %s AND scope_id = %s AND start_time = %s
                   AND horizon_hours >= %s AND (%s::text IS NULL OR weather = %s) ORDER BY id DESC LIMIT 1""",
                (SCOPE_CODES[scope], scope_id, start, horizon_hours, weather, weather))
            row = await cur.fetchone()
        return row[0] if row else None

    async def save_run(self, run: Run) -> int:
        """Store a run and its points; actuals already measured are filled in at once, in the
        stored rows and in `run` (its points and accuracy), so the caller need not read it back."""
        code = SCOPE_CODES[run.scope]
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                """INSERT INTO forecast.forecast_runs (scope, scope_id, start_time, horizon_hours, interval_level,
                   model_version, level_scale, weather) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                   RETURNING id, issued_at""",
                (code, run.scope_id, run.start_time, run.horizon_hours, run.interval_level, run.model_version,
                 run.level_scale, run.weather))
            run.id, run.issued_at = await cur.fetchone()
            async with conn.cursor().copy(
                """COPY forecast.demand_forecasts (run_id, "timestamp", scope, scope_id, model_version, horizon_hours,
                   predicted_demand_mw, confidence_lower, confidence_upper) FROM STDIN""") as copy:
                for p in run.points:
                    await copy.write_row((run.id, p.time, code, run.scope_id, run.model_version, run.horizon_hours,
                                          p.predicted_mw, p.lower_mw, p.upper_mw))
            cur = await conn.execute(
                """UPDATE forecast.demand_forecasts f SET actual_demand_mw = a.demand_mw FROM forecast.demand_actuals a
                   WHERE f.run_id = %s AND a.scope = f.scope AND a.scope_id = f.scope_id AND a.step_end = f."timestamp"
                   RETURNING f."timestamp", a.demand_mw""",
                (run.id,))
            measured = dict(await cur.fetchall())
        for p in run.points:
            p.actual_mw = measured.get(p.time)
        run.accuracy = run_accuracy(run.points)
        return run.id

    async def get_run(self, run_id: int, horizon_hours: int | None = None, with_points: bool = True) -> Run:
        async with self.pool.connection() as conn:
            runs = await self._runs(conn, "r.id = %s", [run_id], 1, with_points)
        run = runs[0]
        if horizon_hours is not None and run.horizon_hours > horizon_hours:  # a longer stored run covers it
            run.points = run.points[:horizon_hours * 4]
            run.horizon_hours = horizon_hours
        return run

    async def list_runs(self, where: list[str], args: list, limit: int, with_points: bool) -> list[Run]:
        async with self.pool.connection() as conn:
            return await self._runs(conn, " AND ".join(where) or "true", args, limit, with_points)

    async def _runs(self, conn, where: str, args: list, limit: int, with_points: bool) -> list[Run]:
        cur = await conn.execute(
            f"""SELECT r.id, r.scope, r.scope_id, r.start_time, r.horizon_hours, r.interval_level, r.model_version,
                       r.issued_at, acc.n, acc.within, acc.mape, acc.coverage, r.level_scale,
                       r.weather
                FROM forecast.forecast_runs r
                CROSS JOIN LATERAL (SELECT {ACCURACY_SQL} FROM forecast.demand_forecasts WHERE run_id = r.id) acc
                WHERE {where} ORDER BY r.id DESC LIMIT %s""", [*args, limit])
        runs = []
        for row in await cur.fetchall():
            run = Run(row[0], SCOPE_NAMES[row[1]], *row[2:8])
            run.accuracy = {"steps_with_actuals": row[8], "within_5pct": row[9] or 0.0, "mape": row[10] or 0.0,
                            "coverage": row[11] or 0.0}
            run.level_scale, run.weather = row[12], row[13]
            runs.append(run)
        if with_points and runs:
            cur = await conn.execute(
                """SELECT run_id, "timestamp", predicted_demand_mw, confidence_lower, confidence_upper, actual_demand_mw
                   FROM forecast.demand_forecasts WHERE run_id = ANY(%s) ORDER BY run_id, "timestamp" """,
                ([r.id for r in runs],))
            by_id = {r.id: r for r in runs}
            for row in await cur.fetchall():
                by_id[row[0]].points.append(Point(*row[1:]))
        return runs

    # ---- model versions (RetrainForecastModel) ----
    async def put_version(self, version: str, status: int, audit: Change, action: str, **fields) -> None:
        """Insert or update a model version, recorded in the audit trail as `action` of the call that
        started its retraining (`audit`)."""
        cols = ["version", "status", *fields]
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                f"""INSERT INTO forecast.model_versions ({", ".join(cols)}) VALUES ({", ".join(["%s"] * len(cols))})
                    ON CONFLICT (version) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in cols[1:])}""",
                [version, status, *fields.values()])
            await audit.record(conn, resource=f"forecastModelVersions/{version}", action=action,
                               after={"status": status, **{k: v if isinstance(v, (int, float, str, bool)) or v is None
                                                           else str(v) for k, v in fields.items()}})

    async def get_version(self, version: str) -> dict | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT version, status, serving, training_start, training_end, holdout_within_5pct,
                          holdout_mape_percent, error_message, created_at, completed_at
                   FROM forecast.model_versions WHERE version = %s""", (version,))
            row = await cur.fetchone()
            names = [d.name for d in cur.description]
        return dict(zip(names, row)) if row else None
