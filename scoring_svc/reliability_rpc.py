"""OutageService.GetReliabilityReport: the month's report built from grid.outages, off the event loop.

The month is validated (YYYY-MM, not after the current month), the outages and customers served are
read from PostgreSQL in one snapshot, and the report (pandas, matplotlib) is built in a worker
thread so that the service's asyncio loop keeps serving. At most MAX_CONCURRENT reports are built at
once; further calls wait their turn (within their deadline). A month without interruptions is a
report of zeros; no customers served at all (no network registered, or none in the region) is
NOT_FOUND.
"""

import asyncio
import math
import re

import pandas as pd

from meters.errors import FieldViolation, invalid_argument, not_found
from meters.regions import REGIONS
from meters.scoring.v1 import reliability_pb2
from scoring_svc.reliability import sources
from scoring_svc.reliability.events import Month
from scoring_svc.reliability.indices import CATEGORIES, SUMS
from scoring_svc.reliability.report import ReliabilityReport, build_reliability_report, of_region

MAX_CONCURRENT = 2
MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


def validated(month: str, region: str) -> Month:
    bad = []
    period = None
    try:
        period = Month.parse(month) if MONTH.fullmatch(month) else None
    except ValueError:  # 2026-13, or out of pandas' range
        pass
    if period is None:
        bad.append(FieldViolation("month", f"{month!r} is not a month YYYY-MM"))
    if period is not None and period.start > pd.Timestamp.now(tz=period.tz):
        bad.append(FieldViolation("month", f"{month} has not begun"))
    if region and region not in REGIONS:
        bad.append(FieldViolation("region", f"{region!r} is not one of {', '.join(REGIONS)}"))
    if bad:
        raise invalid_argument("invalid reliability report request", *bad)
    return period


def _indices(row: pd.Series) -> reliability_pb2.ReliabilityIndices:
    out = reliability_pb2.ReliabilityIndices(
        customers_served=int(row["customers_served"]), saidi=float(row["saidi"]), saifi=float(row["saifi"]),
        maifi=float(row["maifi"]), **{k: (float(row[k]) if k == "customer_minutes" else int(row[k])) for k in SUMS})
    if not math.isnan(row["caidi"]):
        out.caidi = float(row["caidi"])
    return out


def report_message(report: ReliabilityReport, region: str) -> reliability_pb2.ReliabilityReport:
    me = report.month_events
    network = report.by["network"].set_index("category")
    msg = reliability_pb2.ReliabilityReport(
        month=me.month.label, region=region, customers_served=me.customers, interruptions=len(me.events),
        major_event_day_dates=list(me.major_events.in_month(me.month).strftime("%Y-%m-%d")),
        html=report.html, events_csv=report.events_csv, indices_csv=report.indices_csv,
        **{c: _indices(network.loc[c]) for c in CATEGORIES})
    if math.isfinite(me.major_events.t_med):
        msg.t_med_minutes = float(me.major_events.t_med)
    return msg


def _build(outages: pd.DataFrame, served: pd.DataFrame, month: Month, region: str) -> ReliabilityReport:
    if region:
        outages, served = of_region(outages, served, region)
    if served.empty or int(served["customers"].sum()) <= 0:
        raise not_found("customers served", region or "network")
    return build_reliability_report(outages, served, month.label, f"Region {region}" if region else "Network")


class ReliabilityReports:
    def __init__(self, pool):
        self._pool = pool
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)

    async def report(self, month: str, region: str) -> reliability_pb2.ReliabilityReport:
        period = validated(month, region)
        async with self._slots:
            outages, served = await sources.read_postgres_pool(self._pool, period)
            report = await asyncio.to_thread(_build, outages, served, period, region)
        return report_message(report, region)
