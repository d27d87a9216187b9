"""Tests that need a program fail naming how to get it, never skip quietly."""

import shutil

import pytest

PROMETHEUS_FIX = "Debian package `prometheus` (apt-get install prometheus; .ci/run installs it)"
ALERTMANAGER_FIX = ("Debian package `prometheus-alertmanager` (apt-get install prometheus-alertmanager; "
                    ".ci/run installs it)")


def require(*programs: str, fix: str = PROMETHEUS_FIX) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: {fix}", pytrace=False)


@pytest.fixture
def promtool_installed():
    require("promtool")


@pytest.fixture
def prometheus_installed():
    require("promtool", "prometheus")


@pytest.fixture
def alertmanager_installed():
    require("prometheus-alertmanager", "amtool", fix=ALERTMANAGER_FIX)
