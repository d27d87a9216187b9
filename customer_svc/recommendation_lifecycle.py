"""The recommendation lifecycle: pending (proposed) -> sent (delivered) -> accepted or dismissed
(declined); accepted -> measured, its saving measured against the customer's own usage before.

Each transition locks the recommendation's row, checks its status, writes and records its audit
event in one transaction; a refused one raises FAILED_PRECONDITION before anything is written.

The saving (`measure_saving`): the customer's hourly usage (customers.hourly_usage, all its meters)
in the `window_days` UTC days before the UTC day of acceptance against the `window_days` days after
it (the day itself is left out: a change takes a day to show). Each side is summarised on the
customer's local clock like a segmentation month (usage_summary), then: kWh per day with data, the
share in the time-of-use peak hours, and the energy plus supply cost per average month at the
tariff the customer had at acceptance (before) and has now (after; a tariff change shows here).
Demand charges are left out, and nothing is weather-normalised: a hot week after acceptance
counts against the saving. Each side needs data on MIN_COVERAGE of its days.
"""

import datetime as dt

import numpy as np
from psycopg.types.json import Jsonb

from customer_svc.billing import DAYS_PER_MONTH, covered_days, energy_prices, load_tariffs
from customer_svc.profiles import build_profiles
from customer_svc.recommendations import peak_share
from customer_svc.usage_store import load_usage
from customer_svc.usage_summary import summarise
from meters.audit import Change
from meters.customer.v1 import recommendation_pb2 as rpb
from meters.errors import failed_precondition, not_found
from meters.timestamps import to_proto

DAY_S = 86400
DEFAULT_WINDOW_DAYS = 28
MIN_COVERAGE = 0.8
COLUMNS = """r.id, r.recommendation_type, r.title, r.description, r.estimated_monthly_savings, r.status, r.created_at,
  r.delivered_at, r.accepted_at, r.declined_at, r.delivery_channel, r.decline_reason, r.measured_at, r.measurement"""
DELIVERED = ("sent", "accepted", "dismissed", "measured")
LABEL = {"pending": "proposed", "sent": "delivered", "accepted": "accepted", "dismissed": "declined",
         "measured": "measured"}


def message(customer_hash: str, row) -> rpb.Recommendation:
    (rid, rtype, title, desc, savings, status, created, delivered, accepted, declined, channel, reason, measured,
     measurement) = row
    rec = rpb.Recommendation(
        name=f"customers/{customer_hash}/recommendations/{rid}",
        recommendation_type=rpb.RecommendationType.Value("RECOMMENDATION_TYPE_" + rtype.upper()),
        title=title, description=desc, estimated_monthly_savings_aud=savings,
        status=rpb.RecommendationStatus.Value("RECOMMENDATION_STATUS_" + status.upper()), created_at=to_proto(created),
        deliver_time=to_proto(delivered), accept_time=to_proto(accepted), decline_time=to_proto(declined),
        delivery_channel=channel, decline_reason=reason)
    if measurement:
        rec.measurement.CopyFrom(rpb.RecommendationMeasurement(**measurement, measure_time=to_proto(measured)))
    return rec


async def _locked(conn, customer_hash: str, rid: int) -> tuple:
    """(row, customer id, its tariff, region) with the recommendation's row locked FOR UPDATE."""
    cur = await conn.execute(
        f"""SELECT {COLUMNS}, c.id, c.tariff_type, c.region FROM customers.customer_recommendations r
            JOIN customers.customers c ON c.id = r.customer_id WHERE r.id = %s AND c.customer_hash = %s
            FOR UPDATE OF r""", [rid, customer_hash])
    row = await cur.fetchone()
    if row is None:
        raise not_found("recommendation", f"customers/{customer_hash}/recommendations/{rid}")
    return row[:14], row[14], row[15], row[16]


async def get(pool, customer_hash: str, rid: int) -> rpb.Recommendation:
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"""SELECT {COLUMNS} FROM customers.customer_recommendations r JOIN customers.customers c
                ON c.id = r.customer_id WHERE r.id = %s AND c.customer_hash = %s""", [rid, customer_hash])
        row = await cur.fetchone()
    if row is None:
        raise not_found("recommendation", f"customers/{customer_hash}/recommendations/{rid}")
    return message(customer_hash, row)


def _require(row, customer_hash: str, allowed: str, doing: str) -> None:
    status = row[5]
    if status != allowed:
        name = f"customers/{customer_hash}/recommendations/{row[0]}"
        raise failed_precondition(
            f"{name} is {LABEL[status]} ({status.upper()}): only a {LABEL[allowed]} ({allowed.upper()})"
            f" recommendation can be {doing}", f"RECOMMENDATION_{status.upper()}", name=name, status=status.upper())


async def _transition(pool, customer_hash: str, rid: int, allowed: str, doing: str, sets: str, params: list,
                      audit: Change, after: dict) -> rpb.Recommendation:
    async with pool.connection() as conn, conn.transaction():
        row = (await _locked(conn, customer_hash, rid))[0]
        _require(row, customer_hash, allowed, doing)
        await conn.execute(f"UPDATE customers.customer_recommendations SET {sets} WHERE id = %s",
                           [*params, rid])
        await audit.record(conn, before={"status": row[5].upper()}, after=after)
        cur = await conn.execute(f"SELECT {COLUMNS} FROM customers.customer_recommendations r WHERE r.id = %s", [rid])
        return message(customer_hash, await cur.fetchone())


async def deliver(pool, customer_hash: str, rid: int, channel: str, audit: Change) -> rpb.Recommendation:
    return await _transition(pool, customer_hash, rid, "pending", "delivered",
                             "status = 'sent', delivered_at = now(), delivery_channel = %s", [channel], audit,
                             {"status": "SENT", "channel": channel})


async def accept(pool, customer_hash: str, rid: int, audit: Change) -> rpb.Recommendation:
    return await _transition(
        pool, customer_hash, rid, "sent", "accepted",
        """status = 'accepted', accepted_at = now(), tariff_at_acceptance =
             (SELECT tariff_type FROM customers.customers c WHERE c.id = customer_id)""", [], audit,
        {"status": "ACCEPTED"})


async def decline(pool, customer_hash: str, rid: int, reason: str, audit: Change) -> rpb.Recommendation:
    return await _transition(pool, customer_hash, rid, "sent", "declined",
                             "status = 'dismissed', declined_at = now(), decline_reason = %s", [reason], audit,
                             {"status": "DISMISSED", "reason": reason})


async def measure(pool, customer_hash: str, rid: int, window_days: int, audit: Change) -> rpb.Recommendation:
    async with pool.connection() as conn, conn.transaction():
        row, cid, tariff_now, region = await _locked(conn, customer_hash, rid)
        _require(row, customer_hash, "accepted", "measured")
        cur = await conn.execute("SELECT tariff_at_acceptance FROM customers.customer_recommendations WHERE id = %s",
                                 [rid])
        tariff_then = (await cur.fetchone())[0] or tariff_now
        meters = await conn.execute("SELECT meter_id FROM customers.customer_meters WHERE customer_id = %s", [cid])
        meter_ids = np.array([m for (m,) in await meters.fetchall()], dtype=np.int64)
        accepted_day = int(row[8].timestamp()) // DAY_S * DAY_S
        before_start, after_start = accepted_day - window_days * DAY_S, accepted_day + DAY_S
        usage = await load_usage(conn, before_start, after_start + window_days * DAY_S, meter_ids)
        result = measure_saving(usage, region, before_start, after_start, window_days, tariff_then, tariff_now)
        if isinstance(result, str):
            name = f"customers/{customer_hash}/recommendations/{rid}"
            raise failed_precondition(f"{name}: {result}", "NOT_ENOUGH_USAGE", name=name)
        await conn.execute(
            """UPDATE customers.customer_recommendations SET status = 'measured', measured_at = now(),
                 measurement = %s WHERE id = %s""", [Jsonb(result), rid])
        await audit.record(conn, before={"status": "ACCEPTED"}, after={"status": "MEASURED", **result})
        cur = await conn.execute(f"SELECT {COLUMNS} FROM customers.customer_recommendations r WHERE r.id = %s", [rid])
        return message(customer_hash, await cur.fetchone())


def measure_saving(usage, region: str, before_start: int, after_start: int, window_days: int, tariff_then: str,
                   tariff_now: str) -> dict | str:
    """The RecommendationMeasurement fields from one customer's hourly usage, or why it cannot be measured."""
    tariffs = load_tariffs()["tariffs"]
    sides = {}
    for side, start, tariff in (("baseline", before_start, tariff_then), ("actual", after_start, tariff_now)):
        inside = (usage.hour_start_unix_s >= start) & (usage.hour_start_unix_s < start + window_days * DAY_S)
        u = summarise(build_profiles(np.zeros(int(inside.sum()), dtype=np.int64), usage.hour_start_unix_s[inside],
                                     usage.kwh[inside], usage.max_kw[inside], [region], start, window_days + 1))
        days = float(covered_days(u)[0])
        if days < MIN_COVERAGE * window_days:
            when = dt.datetime.fromtimestamp(start, dt.timezone.utc).date()
            return (f"usage covers {days:.1f} of the {window_days} days from {when} ({side}); at least "
                    f"{MIN_COVERAGE:.0%} are needed: measure again when the readings are in")
        spec = tariffs.get(tariff, tariffs["flat"])
        cost = float(np.einsum("cth,th->c", u.kwh, energy_prices(spec))[0]) / days + spec["daily_supply_aud"]
        sides[side] = (float(u.kwh.sum()) / days, float(peak_share(u)[0]), cost)
    (kwh_b, share_b, cost_b), (kwh_a, share_a, cost_a) = sides["baseline"], sides["actual"]
    return {"window_days": window_days, "baseline_kwh_per_day": kwh_b, "actual_kwh_per_day": kwh_a,
            "saving_kwh_per_day": kwh_b - kwh_a, "baseline_peak_share": share_b, "actual_peak_share": share_a,
            "monthly_saving_aud": round((cost_b - cost_a) * DAYS_PER_MONTH, 2), "tariff_before": tariff_then,
            "tariff_after": tariff_now}
