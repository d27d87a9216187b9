"""Reliability indices (SAIDI, SAIFI, CAIDI, MAIFI), IEEE 1366 major event days and the monthly report."""

from scoring_svc.reliability.comparison import reliability_comparison
from scoring_svc.reliability.indices import CATEGORIES, month_events, reliability_indices
from scoring_svc.reliability.major_events import major_event_days
from scoring_svc.reliability.report import (ReliabilityReport, ReportPaths, build_reliability_report,
                                            write_reliability_report, write_report_files)
from scoring_svc.reliability.served import customers_served, read_topology, served_from_topology

__all__ = ["CATEGORIES", "ReliabilityReport", "ReportPaths", "build_reliability_report", "customers_served",
           "major_event_days", "month_events", "read_topology", "reliability_comparison", "reliability_indices",
           "served_from_topology", "write_reliability_report", "write_report_files"]
