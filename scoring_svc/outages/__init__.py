"""Outage detection and restoration from meter events and readings (issue 14), a pure streaming core."""

from scoring_svc.outages.detector import DetectorConfig, OutageDetector
from scoring_svc.outages.planned import planned_work_from_truth
from scoring_svc.outages.records import OutageClosed, OutageOpened

__all__ = ["DetectorConfig", "OutageClosed", "OutageDetector", "OutageOpened", "planned_work_from_truth"]
