"""Prometheus config and alerting rules: valid for promtool, and the rules' unit tests pass."""

import subprocess
from pathlib import Path

import pytest

from observability.prometheus.scrape import render

PROM = Path(__file__).resolve().parents[1] / "observability" / "prometheus"
pytestmark = pytest.mark.usefixtures("promtool_installed")


def promtool(*args: str) -> str:
    done = subprocess.run(["promtool", *args], cwd=PROM, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_checked_in_config_is_the_generated_one_and_valid():
    assert (PROM / "prometheus.yml").read_text() == render()
    promtool("check", "config", "prometheus.yml")


def test_rules_are_valid_and_their_unit_tests_pass():
    rules = sorted(str(p.relative_to(PROM)) for p in (PROM / "rules").glob("*.yml"))
    assert rules
    promtool("check", "rules", *rules)
    tests = sorted(str(p.relative_to(PROM)) for p in (PROM / "tests").glob("*.yml"))
    assert tests
    out = promtool("test", "rules", *tests)
    assert "SUCCESS" in out
