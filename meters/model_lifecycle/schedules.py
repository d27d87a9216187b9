"""When each model retrains (the plan: anomaly weekly, failure and segmentation monthly, forecast
daily), as cron expressions in UTC, and the commands the local scheduler and the Helm chart's
CronJobs run (JOBS). values.yaml (`training.jobs`) carries the same list; tests/test_helm.py keeps
the two equal.

`after` says what happens to a run's artifact: "shadow" puts it beside the promoted model to be
compared on live traffic (the forecast model, whose actuals arrive as readings); "promote" serves it
at once, as `meters train` always did (no labels arrive live for the others yet).

Days of the week by name ("sun"): APScheduler 3 counts day-of-week 0 as Monday where cron and
Kubernetes count it as Sunday; a name means the same day to both.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    model: str  # the job's name: `meters train <model>`
    cron: str  # minute hour day-of-month month day-of-week, UTC
    after: str  # "shadow" or "promote"


SCHEDULES = {s.model: s for s in (
    Schedule("anomaly", "0 2 * * sun", "promote"),  # weekly, Sunday 02:00
    Schedule("failure", "0 3 1 * *", "promote"),  # monthly, the 1st 03:00
    Schedule("segmentation", "0 4 1 * *", "promote"),  # monthly, the 1st 04:00
    Schedule("forecast", "30 1 * * *", "shadow"),  # daily 01:30, after the day's actuals
)}


@dataclass(frozen=True)
class Job:
    """One scheduled command: `meters <argv> --job <who>`."""

    name: str
    cron: str
    argv: tuple[str, ...]


# Each model's training, and the daily decision on the forecast candidate put in shadow the day
# before (01:00, before the next one is trained at 01:30: a day of its live forecasts scored).
JOBS = [*(Job(s.model, s.cron, ("train", s.model)) for s in SCHEDULES.values()),
        Job("forecast-decision", "0 1 * * *", ("model", "decide", "forecast-network"))]
