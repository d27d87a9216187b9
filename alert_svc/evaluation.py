"""`meters evaluate` for alert_svc: escalation timings, measured with the real escalator on a scratch
database of the configured PostgreSQL (alert_svc/escalation_timings.py)."""

from alert_svc.escalation_timings import evaluate

__all__ = ["evaluate"]
