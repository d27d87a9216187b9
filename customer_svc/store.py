"""PostgreSQL reads and writes of customers, recommendations, runs and events (schema `customers`)."""

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from psycopg_pool import AsyncConnectionPool

from customer_svc import summary_store
from customer_svc.config import JOB_STATEMENT_TIMEOUT_S
from customer_svc.recommendation_lifecycle import COLUMNS as RECOMMENDATION_COLUMNS
from customer_svc.recommendations import Recommendations
from meters.audit import Actor, Change, record
from meters.db import allow_long_statements
from meters.pgcopy import copy_payload
from meters.errors import not_found

CUSTOMER_COLUMNS = """c.id, c.customer_hash, coalesce(c.segment_id, ''), c.segment_confidence, c.tariff_type,
  c.solar_installed, c.ev_charging, c.demand_response_opted_in, c.region, c.mean_daily_kwh,
  c.created_at, c.updated_at,
  (SELECT coalesce(array_agg(meter_id ORDER BY meter_id), '{}') FROM customers.customer_meters m WHERE m.customer_id = c.id)"""


@dataclass(frozen=True)
class Assignments:
    """A run's segment per customer, as columns."""

    customer_ids: np.ndarray  # (n,) int64
    segment: np.ndarray  # (n,) index into segment_keys
    confidence: np.ndarray  # (n,)
    mean_daily_kwh: np.ndarray  # (n,)
    segment_keys: Sequence[str]
    renew_recommendations: np.ndarray  # (n,) bool: replace the customer's pending recommendations

    def __len__(self) -> int:
        return len(self.customer_ids)


class CustomerStore:
    def __init__(self, pool: AsyncConnectionPool):
        self.pool = pool

    async def upsert_customers(self, rows: list[dict], audit: Change) -> tuple[int, int]:
        created, touched = 0, []
        async with self.pool.connection() as conn, conn.transaction():
            # The meters' owners before: a meter moving away changes its previous owner's summaries too.
            cur = await conn.execute("SELECT DISTINCT customer_id FROM customers.customer_meters WHERE meter_id = ANY(%s)",
                                     [[m for r in rows for m in r["meter_ids"]]])
            touched = [row[0] for row in await cur.fetchall()]
            for r in rows:
                cur = await conn.execute(
                    """INSERT INTO customers.customers AS c (customer_hash, tariff_type, solar_installed, ev_charging,
                         demand_response_opted_in, region) VALUES (%s, %s, %s, %s, %s, %s)
                       ON CONFLICT (customer_hash) DO UPDATE SET tariff_type = EXCLUDED.tariff_type,
                         solar_installed = EXCLUDED.solar_installed, ev_charging = EXCLUDED.ev_charging,
                         demand_response_opted_in = EXCLUDED.demand_response_opted_in, region = EXCLUDED.region,
                         updated_at = now()
                       RETURNING id, (xmax = 0)""",
                    [r["customer_hash"], r["tariff_type"], r["solar_installed"], r["ev_charging"],
                     r["demand_response_opted_in"], r["region"]])
                cid, inserted = await cur.fetchone()
                created += int(inserted)
                touched.append(cid)
                for meter_id in r["meter_ids"]:
                    await conn.execute(
                        """INSERT INTO customers.customer_meters (meter_id, customer_id) VALUES (%s, %s)
                           ON CONFLICT (meter_id) DO UPDATE SET customer_id = EXCLUDED.customer_id""",
                        [meter_id, cid])
            # A month's summaries are per customer, of its meters and region: the months holding these
            # meters' usage change (none for new meters, the usual case; not every month on record).
            meter_ids = [m for r in rows for m in r["meter_ids"]]
            months = await summary_store.months_with_usage(conn, meter_ids)
            if months:
                await summary_store.bump(conn, months)
                await summary_store.mark_customers_refold(conn, months, touched)
            await audit.record(conn, after={"requested": len(rows), "created": created, "updated": len(rows) - created,
                                            "meters": len(meter_ids)})
        return created, len(rows) - created

    async def get_customer(self, customer_hash: str) -> tuple:
        async with self.pool.connection() as conn:
            cur = await conn.execute(f"SELECT {CUSTOMER_COLUMNS} FROM customers.customers c WHERE c.customer_hash = %s",
                                     [customer_hash])
            row = await cur.fetchone()
        if row is None:
            raise not_found("customer", f"customers/{customer_hash}")
        return row

    async def customers_with_meters(self) -> list[tuple]:
        """(customer id, region, tariff, segment key or '', EV) of every customer with a meter, by id."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT c.id, c.region, c.tariff_type, coalesce(c.segment_id, ''), c.ev_charging
                   FROM customers.customers c
                   WHERE EXISTS (SELECT 1 FROM customers.customer_meters m WHERE m.customer_id = c.id) ORDER BY c.id""")
            return await cur.fetchall()

    async def list_recommendations(self, customer_id: int, before_id: int | None, limit: int, status: str,
                                   rtype: str) -> list[tuple]:
        where, params = ["customer_id = %s"], [customer_id]
        if before_id is not None:
            where.append("id < %s"); params.append(before_id)
        if status:
            where.append("status = %s"); params.append(status)
        if rtype:
            where.append("recommendation_type = %s"); params.append(rtype)
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"""SELECT {RECOMMENDATION_COLUMNS} FROM customers.customer_recommendations r
                    WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s""",
                [*params, limit])
            return await cur.fetchall()

    async def segment_counts(self, region: str) -> tuple[list[tuple], int, tuple | None]:
        where = "WHERE region = %s" if region else ""
        params = [region] if region else []
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"""SELECT segment_id, count(*), avg(mean_daily_kwh) FROM customers.customers {where}
                    GROUP BY segment_id""", params)
            rows = await cur.fetchall()
            cur = await conn.execute(
                "SELECT id, completed_at FROM customers.segmentation_runs WHERE status = 'succeeded'"
                " ORDER BY id DESC LIMIT 1")
            run = await cur.fetchone()
        segmented = [r for r in rows if r[0]]
        unsegmented = sum(r[1] for r in rows if not r[0])
        return segmented, unsegmented, run

    async def peak_hours(self, run_id: int, region: str) -> dict[str, int]:
        """Segment key -> local hour of the members' highest mean weekday use in that run."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT segment_id, hourly_kwh_sum FROM customers.segment_profiles
                   WHERE segmentation_run_id = %s AND (%s = '' OR region = %s)""", [run_id, region, region])
            rows = await cur.fetchall()
        total: dict[str, list[float]] = {}
        for seg, hourly in rows:
            acc = total.setdefault(seg, [0.0] * 24)
            total[seg] = [a + b for a, b in zip(acc, hourly)]
        return {seg: max(range(24), key=hourly.__getitem__) for seg, hourly in total.items()}

    async def create_run(self, usage_days: int, audit: Change) -> int:
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute("INSERT INTO customers.segmentation_runs (usage_days) VALUES (%s) RETURNING id",
                                     [usage_days])
            run_id = (await cur.fetchone())[0]
            await audit.record(conn, resource=f"segmentationRuns/{run_id}", after={"usage_days": usage_days})
            return run_id

    async def finish_run(self, run_id: int, status: str, assigned: int = 0, version: str = "", ari: float = 0.0,
                         error: str = "") -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                """UPDATE customers.segmentation_runs SET status = %s, customers_assigned = %s, model_version = %s,
                     adjusted_rand_index = %s, error_message = %s, completed_at = now() WHERE id = %s""",
                [status, assigned, version, ari, error[:2000], run_id])

    async def get_run(self, run_id: int) -> tuple:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                """SELECT id, status, usage_days, customers_assigned, model_version, adjusted_rand_index,
                          error_message, created_at, completed_at FROM customers.segmentation_runs WHERE id = %s""",
                [run_id])
            row = await cur.fetchone()
        if row is None:
            raise not_found("segmentation_run", f"segmentationRuns/{run_id}")
        return row

    async def last_recommendation_basis(self) -> str | None:
        """The basis of the latest stored recommendations (recommendations.recommendation_basis)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute("""SELECT recommendation_basis FROM customers.segmentation_runs
                                        WHERE recommendation_basis IS NOT NULL ORDER BY id DESC LIMIT 1""")
            row = await cur.fetchone()
        return row[0] if row else None

    async def store_assignments(self, run_id: int, assigned: Assignments, recs: Recommendations, basis: str,
                                profiles: list[tuple] = (), audit: Change | None = None) -> None:
        """One transaction: every assigned customer's segment, confidence, mean daily kWh and run; `recs` in
        place of the pending recommendations of the customers whose recommendations are renewed, and their
        basis on the run; profiles: (region, segment key, customers, 24 summed weekday hourly kWh).
        The replacement is recorded in the audit trail as the run's `store_results`, by whoever started
        the run (`audit`, its RunSegmentation change) or else by system:segmentation."""
        async with self.pool.connection() as conn, conn.transaction():
            await allow_long_statements(conn, JOB_STATEMENT_TIMEOUT_S)
            async with conn.cursor() as cur:
                await cur.executemany(
                    """INSERT INTO customers.segment_profiles (segmentation_run_id, region, segment_id, customers,
                         hourly_kwh_sum) VALUES (%s, %s, %s, %s, %s)""",
                    [(run_id, region, seg, n, hourly) for region, seg, n, hourly in profiles])
            # COPY, not a statement per row: a run at 1.2 M customers writes ~1.2 M assignments and
            # a few million recommendations.
            await conn.execute("CREATE TEMP TABLE run_assignments (customer_id int8, segment int2,"
                               " confidence float8, mean_daily_kwh float8, renew int2) ON COMMIT DROP")
            async with conn.cursor().copy("COPY run_assignments FROM STDIN (FORMAT BINARY)") as copy:
                await copy.write(copy_payload([("int8", assigned.customer_ids), ("int2", assigned.segment),
                                               ("float8", assigned.confidence), ("float8", assigned.mean_daily_kwh),
                                               ("int2", assigned.renew_recommendations)]))
            await conn.execute("ANALYZE run_assignments")  # else the planner guesses its size
            await conn.execute(
                """UPDATE customers.customers c SET segment_id = (%s::text[])[a.segment + 1],
                     segment_confidence = a.confidence, mean_daily_kwh = a.mean_daily_kwh, segmentation_run_id = %s,
                     updated_at = now()
                   FROM run_assignments a WHERE c.id = a.customer_id""", [list(assigned.segment_keys), run_id])
            # A run's recommendations replace the pending ones of the customers it renews.
            cur = await conn.execute("""DELETE FROM customers.customer_recommendations r USING run_assignments a
                                        WHERE r.customer_id = a.customer_id AND a.renew = 1 AND r.status = 'pending'""")
            await record(conn, resource=f"segmentationRuns/{run_id}", action="store_results",
                         actor=audit.actor if audit else SEGMENTATION,
                         method=audit.method if audit else "segmentation.store_results",
                         after={"customers_assigned": len(assigned), "pending_recommendations_replaced": cur.rowcount,
                                "recommendations_written": len(recs)})
            await conn.execute("UPDATE customers.segmentation_runs SET recommendation_basis = %s WHERE id = %s",
                               [basis, run_id])
            async with conn.cursor().copy(
                    """COPY customers.customer_recommendations (customer_id, recommendation_type, title, description,
                         estimated_monthly_savings, segmentation_run_id) FROM STDIN""") as copy:
                for block in _recommendation_rows(recs, run_id):
                    await copy.write(block)


SEGMENTATION = Actor.system("segmentation")
COPY_BLOCK_ROWS = 100_000
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _recommendation_rows(recs: Recommendations, run_id: int):
    """COPY text of the recommendations, in blocks of COPY_BLOCK_ROWS rows (bytes)."""
    for start in range(0, len(recs), COPY_BLOCK_ROWS):
        part = slice(start, start + COPY_BLOCK_ROWS)
        texts = [_copy_text(getattr(recs, name)[part]) for name in ("recommendation_type", "title", "description")]
        lines = map(f"{{}}\t{{}}\t{{}}\t{{}}\t{{}}\t{run_id}\n".format, recs.customer_ids[part].tolist(), *texts,
                    recs.estimated_monthly_savings_aud[part].tolist())
        yield "".join(lines).encode()


def _copy_text(values: list[str]) -> list[str]:
    """values escaped for COPY's text format (backslash, tab, newline, carriage return)."""
    if not _COPY_SPECIAL.search("".join(values)):  # one scan: generated text rarely has any
        return values
    return [v.translate(_COPY_ESCAPES) for v in values]


def utc(unix_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix_s, dt.timezone.utc)
