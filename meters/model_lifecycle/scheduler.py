"""The local training scheduler (`meters model scheduler`, started by `make up`): each job of
schedules.JOBS runs `meters <argv> --job schedule` (`meters train <model>`, `meters model decide`) as
a child process at its cron times, the same commands the chart's CronJobs run. APScheduler computes
the cron times; one run of a job at a time, a missed run (machine asleep) runs once when it can.

`trigger(name)` makes a job due now through the scheduler itself (tests, an operator) and waits for
its outcome, instead of waiting for its cron time.
"""

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from meters.model_lifecycle.schedules import JOBS, Job

log = logging.getLogger(__name__)
RUN_TIMEOUT_S = 6 * 3600


@dataclass(frozen=True)
class Outcome:
    returncode: int
    output: str


def run_command(argv: tuple[str, ...], env: dict[str, str]) -> Outcome:
    done = subprocess.run([sys.executable, "-m", "meters.cli", *argv, "--job", "schedule"],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if done.returncode:
        log.error("scheduled job failed", extra={"fields": {"argv": list(argv), "rc": done.returncode,
                                                           "stderr": done.stderr[-2000:]}})
    return Outcome(done.returncode, done.stdout + done.stderr)


class TrainingScheduler:
    def __init__(self, env: dict[str, str], jobs: list[Job] | None = None):
        self.scheduler = BackgroundScheduler(timezone=dt.timezone.utc)
        self.env = env
        self._waiters: dict[str, list] = {}
        self._lock = threading.Lock()
        for job in jobs or JOBS:
            self.scheduler.add_job(run_command, CronTrigger.from_crontab(job.cron, timezone=dt.timezone.utc),
                                   args=(job.argv, env), id=job.name, name=job.name, max_instances=1, coalesce=True,
                                   misfire_grace_time=3600)
        self.scheduler.add_listener(self._finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)

    def next_runs(self) -> dict[str, dt.datetime]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    def trigger(self, name: str, timeout_s: float = 1800) -> Outcome:
        """Make the job due now and wait for its run; its cron schedule carries on after."""
        done = threading.Event()
        box: list = []
        with self._lock:
            self._waiters.setdefault(name, []).append((done, box))
        self.scheduler.get_job(name).modify(next_run_time=dt.datetime.now(dt.timezone.utc))
        self.scheduler.wakeup()
        if not done.wait(timeout_s):
            raise TimeoutError(f"training job {name} did not finish within {timeout_s} s")
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    def _finished(self, event) -> None:
        with self._lock:
            waiters = self._waiters.pop(event.job_id, [])
        for done, box in waiters:
            box.append(event.exception if event.exception else event.retval)
            done.set()


def run_forever(dsn: str) -> None:
    """Run until SIGTERM or SIGINT."""
    scheduler = TrainingScheduler({"METERS_PG_DSN": dsn})
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.start()
    log.info("training scheduler started", extra={"fields": {k: str(v) for k, v in scheduler.next_runs().items()}})
    stop.wait()
    scheduler.stop()


def spawn(dsn: str, log_path: Path) -> subprocess.Popen:
    """The scheduler as a process of its own (`make up`), logging to `log_path`; SIGTERM stops it."""
    with log_path.open("ab") as log_file:
        return subprocess.Popen([sys.executable, "-m", "meters.cli", "model", "scheduler", "--dsn", dsn],
                                stdout=log_file, stderr=log_file, start_new_session=True)
