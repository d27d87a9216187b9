"""Theft-suspect inputs from what the platform stored, read in one read-only snapshot.

- scope: grid.meter_connections -> grid.transformers (one transformer, a feeder, a region or all);
- the meters' readings per hour of the window: meters.meter_readings is the import register
  (docs/decisions.md 10); export comes from the negative readings ingest kept in
  meters.rejected_readings as NEGATIVE_CONSUMPTION (as received; one per interval, none where a
  reading was stored for it), so each hour's kWh is the signed net flow the balance needs;
- the transformers' own energy: grid.transformer_telemetry.energy_kwh (scoring_0005; NULL = unknown);
- tamper / cover-open events: meters.meter_events (types 3 and 4);
- solar: customers.customers.solar_installed through customers.customer_meters. A meter without a
  customer record counts as "solar unknown" (no reverse-flow evidence), and without the customers
  schema in this database nothing is known of solar.

Read with binary COPY (meters/pgcopy.py) as plain numpy columns, handed to the worker process that
sums them per hour, builds the arrays and ranks.
Reading another service's schema departs from docs/decisions.md 5: docs/decisions.md 26 says why.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from psycopg import sql

from meters.pgcopy import read_copy_payload
from meters.timestamps import from_unix
from scoring_svc.revenue_protection import inputs
from scoring_svc.revenue_protection.energy_balance import DAY_S
from scoring_svc.revenue_protection.suspects import SuspectInputs

HOUR_S = inputs.HOUR_S
COVER_OPEN, TAMPER = 3, 4  # meters.ingest.v1.MeterEventType
NEGATIVE = "REJECTION_REASON_NEGATIVE_CONSUMPTION"
TABLES = ("meters.meter_readings", "meters.rejected_readings", "meters.meter_events", "grid.transformer_telemetry")
SOLAR_TABLES = ("customers.customers", "customers.customer_meters")


@dataclass(frozen=True)
class Scope:
    transformer_id: int = 0
    feeder_id: int = 0
    region: str = ""


@dataclass(frozen=True)
class Window:
    start_unix_s: int  # on the hour
    days: int

    @property
    def end_unix_s(self) -> int:
        return self.start_unix_s + self.days * DAY_S

    @property
    def hours(self) -> int:
        return self.days * 24


@dataclass(frozen=True)
class StoredWindow:
    """Columns as read: meters (id, transformer), energy (transformer, hour, kWh), stored readings and
    rejected exports (meter, interval end unix s, kWh), tamper events (meter, day), solar (meter, 0/1)."""

    window: Window
    meter_ids: np.ndarray
    meter_transformers: np.ndarray
    energy: tuple[np.ndarray, np.ndarray, np.ndarray]
    readings: tuple[np.ndarray, np.ndarray, np.ndarray]
    exports: tuple[np.ndarray, np.ndarray, np.ndarray]
    tamper: tuple[np.ndarray, np.ndarray]
    solar: tuple[np.ndarray, np.ndarray] | None  # None: no customer register in this database


def _scope_sql(scope: Scope) -> sql.Composable:
    """SELECT meter_id, transformer_id of the scope's connected meters."""
    where = [sql.SQL("TRUE")]
    for column, value in (("id", scope.transformer_id), ("feeder_id", scope.feeder_id), ("region", scope.region)):
        if value:
            where.append(sql.SQL("t.{} = {}").format(sql.Identifier(column), sql.Literal(value)))
    return sql.SQL("SELECT mc.meter_id, mc.transformer_id FROM grid.meter_connections mc"
                   " JOIN grid.transformers t ON t.id = mc.transformer_id WHERE {}").format(sql.SQL(" AND ").join(where))


def _hour(column: str, w: Window) -> sql.Composable:
    """The window's hour (0..H-1) an interval ending at `column` falls in."""
    return sql.SQL("floor((date_part('epoch', {}) - 1 - {}) / 3600)::int4").format(
        sql.SQL(column), sql.Literal(w.start_unix_s))


def _in_window(column: str, w: Window) -> sql.Composable:
    return sql.SQL("{c} > {a} AND {c} <= {b}").format(c=sql.SQL(column), a=sql.Literal(from_unix(w.start_unix_s)),
                                                      b=sql.Literal(from_unix(w.end_unix_s)))


def queries(scope: Scope, w: Window) -> dict[str, tuple[sql.Composable, list[str]]]:
    """name -> (COPY statement, column types)."""
    s = _scope_sql(scope)
    copy = lambda q: sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(q)  # noqa: E731
    return {
        "meters": (copy(sql.SQL("{} ORDER BY mc.meter_id").format(s)), ["int8", "int8"]),
        "energy": (copy(sql.SQL(
            "SELECT tt.transformer_id, {h}, tt.energy_kwh FROM grid.transformer_telemetry tt"
            " WHERE tt.energy_kwh IS NOT NULL AND {win}"
            " AND tt.transformer_id IN (SELECT transformer_id FROM ({s}) sc)").format(
                h=_hour("tt.hour_end", w), win=_in_window("tt.hour_end", w), s=s)), ["int8", "int4", "float8"]),
        # Raw intervals, summed per hour in the worker (numpy): the SQL aggregate (per interval to
        # pick the stored reading over a rejected export, then per hour) took ~35 s for 1,000 meters x
        # 90 days here, most of the call.
        "readings": (copy(sql.SQL(
            "SELECT r.meter_id, r.reading_time, r.consumption_kwh FROM meters.meter_readings r"
            " WHERE {win} AND r.meter_id IN (SELECT meter_id FROM ({s}) sc)").format(
                s=s, win=_in_window("r.reading_time", w))), ["int8", "timestamptz", "float8"]),
        "exports": (copy(sql.SQL(
            "SELECT r.meter_id, r.reading_time, r.consumption_kwh FROM meters.rejected_readings r"
            " WHERE r.reason = {neg} AND r.consumption_kwh < 0 AND {win}"
            " AND r.meter_id IN (SELECT meter_id FROM ({s}) sc)").format(
                s=s, win=_in_window("r.reading_time", w), neg=sql.Literal(NEGATIVE))),
            ["int8", "timestamptz", "float8"]),
        "tamper": (copy(sql.SQL(
            "SELECT e.meter_id, floor((date_part('epoch', e.event_time) - {a}) / 86400)::int4"
            " FROM meters.meter_events e WHERE e.event_type IN ({c}, {t}) AND e.event_time >= {ta} AND e.event_time < {tb}"
            " AND e.meter_id IN (SELECT meter_id FROM ({s}) sc)").format(
                a=sql.Literal(w.start_unix_s), c=sql.Literal(COVER_OPEN), t=sql.Literal(TAMPER), s=s,
                ta=sql.Literal(from_unix(w.start_unix_s)), tb=sql.Literal(from_unix(w.end_unix_s)))), ["int8", "int4"]),
        "solar": (copy(sql.SQL(
            "SELECT cm.meter_id, c.solar_installed::int4::int2 FROM customers.customer_meters cm"
            " JOIN customers.customers c ON c.id = cm.customer_id"
            " WHERE cm.meter_id IN (SELECT meter_id FROM ({s}) sc)").format(s=s)), ["int8", "int2"]),
    }


async def _copy(cur, statement: sql.Composable, types: list[str]) -> list[np.ndarray]:
    payload = bytearray()
    async with cur.copy(statement) as copy:
        async for chunk in copy:
            payload += chunk
    return read_copy_payload(payload, types)


async def missing_tables(cur, names) -> list[str]:
    await cur.execute("SELECT name FROM unnest(%s::text[]) name WHERE to_regclass(name) IS NULL", [list(names)])
    return [r[0] for r in await cur.fetchall()]


async def count_meters(cur, scope: Scope) -> int:
    await cur.execute(sql.SQL("SELECT count(*) FROM ({}) sc").format(_scope_sql(scope)))
    return (await cur.fetchone())[0]


async def read_window(cur, scope: Scope, w: Window) -> StoredWindow:
    """Every column of the window, through `cur` (the caller's read-only snapshot; the tables exist)."""
    q = queries(scope, w)
    got = {name: tuple(await _copy(cur, *q[name])) for name in ("meters", "energy", "readings", "exports", "tamper")}
    solar = None if await missing_tables(cur, SOLAR_TABLES) else tuple(await _copy(cur, *q["solar"]))
    return StoredWindow(w, *got["meters"], got["energy"], got["readings"], got["exports"], got["tamper"], solar)


@dataclass(frozen=True)
class Built:
    inputs: SuspectInputs
    transformer_ids: np.ndarray  # (T,) transformers balanced (with energy in the window)
    without_energy: int  # transformers in scope with no energy in the window: their meters are not ranked
    solar_known: bool


def _one_value_per_interval(data: StoredWindow, w: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stored readings plus the rejected exports of intervals without a stored reading, each once
    (a resent export is rejected again: another row)."""
    (m_s, t_s, k_s), (m_x, t_x, k_x) = data.readings, data.exports
    span = w.days * DAY_S + 1
    key_x = m_x.astype(np.int64) * span + (t_x - w.start_unix_s)
    _, first = np.unique(key_x, return_index=True)
    keep = first[~np.isin(key_x[first], m_s.astype(np.int64) * span + (t_s - w.start_unix_s))]
    return np.concatenate([m_s, m_x[keep]]), np.concatenate([t_s, t_x[keep]]), np.concatenate([k_s, k_x[keep]])


def build(data: StoredWindow) -> Built | None:
    """The arrays of suspects.py from the columns (None: no transformer in scope has energy)."""
    w = data.window
    tx_e, hour_e, kwh_e = data.energy
    ok = (hour_e >= 0) & (hour_e < w.hours)
    tx_ids = np.unique(tx_e[ok])
    scoped_tx = np.unique(data.meter_transformers)
    keep = np.isin(data.meter_transformers, tx_ids)
    if not keep.any():
        return None
    meter_ids, meter_tx = data.meter_ids[keep], data.meter_transformers[keep]  # sorted by meter id
    energy = np.full((len(tx_ids), w.hours), np.nan)
    energy[np.searchsorted(tx_ids, tx_e[ok]), hour_e[ok]] = kwh_e[ok]

    m_r, t_r, kwh_r = _one_value_per_interval(data, w)
    mine = np.isin(m_r, meter_ids) & (t_r > w.start_unix_s) & (t_r <= w.end_unix_s)
    row, kwh = np.searchsorted(meter_ids, m_r[mine]), kwh_r[mine]
    hour = (t_r[mine] - 1 - w.start_unix_s) // HOUR_S
    n_m = len(meter_ids)
    hourly = np.bincount(row * w.hours + hour, kwh, n_m * w.hours).reshape(n_m, w.hours).astype(np.float32)
    cell = row * w.days + hour // 24
    s, sq, n = (np.bincount(cell, v, n_m * w.days).reshape(n_m, w.days) for v in (kwh, kwh * kwh, None))
    mean = s / np.maximum(n, 1)
    interval_std = np.sqrt(np.maximum(sq / np.maximum(n, 1) - mean**2, 0.0))

    m_t, day_t = data.tamper
    t_ok = np.isin(m_t, meter_ids)
    tamper = pd.Series(day_t[t_ok]).groupby(np.searchsorted(meter_ids, m_t[t_ok])).apply(np.asarray).to_dict()

    solar = None
    if data.solar is not None:
        m_s, has = data.solar
        known_no = np.isin(meter_ids, m_s[has == 0])
        solar = ~known_no  # unknown counts as solar: no reverse-flow evidence without a record saying none
    tx_row = np.searchsorted(tx_ids, meter_tx)
    hours = inputs.transformer_hours(tx_ids, energy, w.start_unix_s, hourly, tx_row)
    built = inputs.suspect_inputs(meter_ids, meter_tx, hourly, hours, w.start_unix_s, w.days, interval_std,
                                  tamper or None, solar)
    return Built(built, tx_ids, int(len(scoped_tx) - len(tx_ids)), data.solar is not None)
