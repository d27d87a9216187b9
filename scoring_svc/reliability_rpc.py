"""OutageService.GetReliabilityReport: the month's report built from grid.outages, off the event loop.

The month is validated (YYYY-MM, not after the current month), the outages and customers served are
read from PostgreSQL in one snapshot, and the report (pandas, matplotlib) is built and serialised in
a worker process kept for the purpose (scoring_svc/worker_process.py). At most MAX_CONCURRENT reports are read and waiting at once;
further calls wait their turn (within their deadline). A month without interruptions is a report of
zeros; no customers served at all (no network registered, or none in the region) is NOT_FOUND.
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
from scoring_svc.worker_process import WorkerProcess

MAX_CONCURRENT = 2  # one being built in the worker, one read and waiting
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


def scoped(outages: pd.DataFrame, served: pd.DataFrame, region: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole network's rows, or one region's; NOT_FOUND when nobody is served there."""
    if region:
        outages, served = of_region(outages, served, region)
    if served.empty or int(served["customers"].sum()) <= 0:
        raise not_found("customers served", region or "network")
    return outages, served


def build(outages: pd.DataFrame, served: pd.DataFrame, month: str, region: str) -> ReliabilityReport:
    return build_reliability_report(outages, served, month, f"Region {region}" if region else "Network")


def report_bytes(outages: pd.DataFrame, served: pd.DataFrame, month: str, region: str) -> bytes:
    """The serialised ReliabilityReport message (runs in the worker process)."""
    return report_message(build(outages, served, month, region), region).SerializeToString()


class ReliabilityReports:
    def __init__(self, pool):
        self._pool = pool
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._worker = WorkerProcess("report", "REPORT_WORKER_DIED")

    async def report(self, month: str, region: str) -> reliability_pb2.ReliabilityReport:
        period = validated(month, region)
        async with self._slots:
            outages, served = scoped(*await sources.read_postgres_pool(self._pool, period), region)
            data = await self._worker.run(report_bytes, outages, served, period.label, region)
        return reliability_pb2.ReliabilityReport.FromString(data)

    async def close(self) -> None:
        await self._worker.close()
