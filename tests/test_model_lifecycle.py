"""The promotion rule, the artifact digest and the training schedules (no infrastructure)."""

import datetime as dt
import math

import pytest
from apscheduler.triggers.cron import CronTrigger

from meters.model_lifecycle.digest import folder_digest
from meters.model_lifecycle.rule import PROMOTE, REFUSE, WAIT, Rule, Score, decide
from meters.model_lifecycle.schedules import SCHEDULES

RULE = Rule(min_steps=96, latency_margin=0.25, latency_slack_s=0.05)


def score(error, steps=200, latency=0.1, version="v"):
    return Score(version, error, steps, latency)


def test_a_better_candidate_is_promoted():
    assert decide(score(10.0), score(8.0), RULE).action == PROMOTE


def test_a_worse_or_equal_candidate_is_refused():
    assert decide(score(10.0), score(12.0), RULE).action == REFUSE
    assert decide(score(10.0), score(10.0), RULE).action == REFUSE  # not better: the promoted one stays


def test_the_required_improvement_is_relative():
    rule = Rule(min_improvement=0.1)
    assert decide(score(10.0), score(9.5), rule).action == REFUSE
    assert decide(score(10.0), score(8.9), rule).action == PROMOTE


def test_a_latency_regression_beyond_the_margin_refuses_even_a_better_candidate():
    limit = 0.2 * 1.25 + 0.05
    assert decide(score(10.0, latency=0.2), score(5.0, latency=limit - 1e-6), RULE).action == PROMOTE
    refused = decide(score(10.0, latency=0.2), score(5.0, latency=limit + 1e-3), RULE)
    assert refused.action == REFUSE and "latency" in refused.reason


def test_too_few_steps_or_nothing_scored_is_no_decision():
    assert decide(score(10.0, steps=95), score(5.0), RULE).action == WAIT
    assert decide(score(10.0), score(5.0, steps=95), RULE).action == WAIT
    assert decide(score(math.nan), score(5.0), RULE).action == WAIT


def test_evidence_names_both_scores_and_the_rule():
    d = decide(score(10.0, version="a"), score(8.0, version="b"), RULE)
    ev = d.evidence(RULE, score(10.0, version="a"), score(8.0, version="b"))
    assert ev["promoted"]["version"] == "a" and ev["shadow"]["error"] == 8.0 and ev["rule"]["min_steps"] == 96


def test_the_artifact_digest_covers_every_file_and_only_their_content(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        (folder / "sub").mkdir(parents=True)
        (folder / "weights.bin").write_bytes(b"\x00\x01")
        (folder / "sub" / "manifest.json").write_text("{}")
    assert folder_digest(a) == folder_digest(b)
    assert set(folder_digest(a)[1]) == {"weights.bin", "sub/manifest.json"}
    (b / "weights.bin").write_bytes(b"\x00\x02")
    assert folder_digest(a)[0] != folder_digest(b)[0]


@pytest.mark.parametrize("model,weekday,days_apart", [("anomaly", 6, 7), ("failure", None, None),
                                                       ("segmentation", None, None), ("forecast", None, 1)])
def test_the_plan_schedules(model, weekday, days_apart):
    """Anomaly weekly (on Sunday, as cron means it), failure and segmentation monthly, forecast daily."""
    trigger = CronTrigger.from_crontab(SCHEDULES[model].cron, timezone=dt.timezone.utc)
    now = dt.datetime(2026, 12, 7, 12, tzinfo=dt.timezone.utc)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(seconds=1))
    if weekday is not None:
        assert first.weekday() == weekday
    if days_apart is not None:
        assert (second - first) == dt.timedelta(days=days_apart)
    else:
        assert first.day == 1 and second.day == 1 and second.month == first.month % 12 + 1
    assert SCHEDULES[model].after == ("shadow" if model == "forecast" else "promote")


def test_the_scheduler_process_starts_with_every_job_due_later_and_stops_on_sigterm(tmp_path):
    """What `make up` starts: logs each job's next run, runs none at start, exits 0 on SIGTERM."""
    import json
    import signal
    import time

    from meters.model_lifecycle.scheduler import spawn
    from meters.model_lifecycle.schedules import JOBS

    log = tmp_path / "scheduler.log"
    proc = spawn("postgresql://nobody@127.0.0.1:1/none", log)
    try:
        deadline = time.monotonic() + 60
        while "training scheduler started" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        started = next(json.loads(line) for line in log.read_text().splitlines() if "scheduler started" in line)
        assert {job.name for job in JOBS} <= started.keys(), started
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
