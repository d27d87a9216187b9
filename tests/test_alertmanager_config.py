"""The rendered Alertmanager configuration: valid for `amtool`, every platform alert routed to alert_svc,
no secret in the file, and Prometheus pointed at the same Alertmanager."""

import subprocess
from pathlib import Path

import pytest
import yaml

from alert_svc.alertmanager_intake import SEVERITIES
from observability.alertmanager import config
from observability.prometheus.scrape import DEFAULT_PORT_BASE

PROM = Path(__file__).resolve().parents[1] / "observability" / "prometheus"
pytestmark = pytest.mark.usefixtures("alertmanager_installed")


def amtool(*args: str) -> str:
    done = subprocess.run(["amtool", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def rendered(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    return config.write_local(tmp_path, 30_000, ca)


def platform_alerts() -> list[dict]:
    return [r for path in sorted((PROM / "rules").glob("*.yml")) for g in yaml.safe_load(path.read_text())["groups"]
            for r in g["rules"] if "alert" in r]


def test_the_config_is_valid_and_keeps_the_token_in_its_file(rendered):
    path, env = rendered
    assert "SUCCESS" in amtool("check-config", str(path))
    token_file = Path(env["METERS_ALERTMANAGER_TOKEN_FILE"])
    token = token_file.read_text().strip()
    assert len(token) >= 40 and token not in path.read_text()
    assert token_file.stat().st_mode & 0o077 == 0
    settings = yaml.safe_load(path.read_text())
    [hook] = settings["receivers"][0]["webhook_configs"]
    assert hook["url"] == f"https://127.0.0.1:{env['METERS_ALERTMANAGER_WEBHOOK_PORT']}/alertmanager/v1/webhook"
    assert hook["send_resolved"] and hook["http_config"]["authorization"]["credentials_file"] == str(token_file)


def test_every_platform_alert_goes_to_alert_svc_with_a_severity_it_knows(rendered):
    path, _ = rendered
    alerts = platform_alerts()
    assert {"MetersIngestStalled", "MetersWriterStalled", "MetersServiceDown", "MetersScorerSlow"} <= \
        {a["alert"] for a in alerts}
    for rule in alerts:
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        labels = [f"alertname={rule['alert']}", f"severity={rule['labels']['severity']}"]
        assert amtool("config", "routes", "test", f"--config.file={path}", *labels).split() == [config.RECEIVER]


def test_prometheus_sends_to_the_mesh_alertmanager():
    settings = yaml.safe_load((PROM / "prometheus.yml").read_text())
    [manager] = settings["alerting"]["alertmanagers"]
    assert manager["static_configs"][0]["targets"] == [config.alertmanager_addr(DEFAULT_PORT_BASE)]
