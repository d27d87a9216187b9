"""The chart's Alertmanager (alertmanager.enabled) and the platform's alert rules (metrics.prometheusRules):
the same routing as the local config (observability/alertmanager/config.py), delivering to alert_svc's
webhook Service and port over HTTPS with a certificate name alert_svc holds, the token from one Secret
in both pods, the rules exactly observability/prometheus/rules/meters.yml. Rendered as tests/test_helm.py
renders the chart (the ci/alertmanager-values.yaml variant)."""

import shutil
import subprocess
from urllib.parse import urlsplit

import pytest
import yaml

from observability.alertmanager import config
from tests.test_helm import (AM_PORT, AM_WEBHOOK, REPO, deployments_spec, env_of, file_in_volume, of_kind,
                             refused, rendered, template)

__all__ = ["rendered"]  # the fixture, imported to be used here
RULES = REPO / "observability" / "prometheus" / "rules" / "meters.yml"
TOKEN_SECRET = ("meters-am-token", "token")  # ci/alertmanager-values.yaml


def alertmanager_yml(objects) -> str:
    return of_kind(objects, "ConfigMap")["alertmanager"]["data"]["alertmanager.yml"]


def test_off_by_default(rendered):
    objects = rendered["default"]
    assert not [o for o in objects if "alertmanager" in o["metadata"]["name"] or o["kind"] == "PrometheusRule"]
    alert = deployments_spec(objects)["alert"]["containers"][0]
    assert not [e for e in env_of(alert) if e.startswith("METERS_ALERTMANAGER")]


def test_routing_is_the_local_configs_and_reaches_alert_svcs_webhook_over_https(rendered, tmp_path):
    objects = rendered["alertmanager"]
    text = alertmanager_yml(objects)
    chart = yaml.safe_load(text)
    [hook] = chart["receivers"][0]["webhook_configs"]
    local = yaml.safe_load(config.render(hook["url"], "/etc/alertmanager/token/token", "/etc/alertmanager/tls/ca.crt"))
    assert chart == local
    url = urlsplit(hook["url"])
    assert url.scheme == "https" and url.path == "/alertmanager/v1/webhook"
    services = of_kind(objects, "Service")
    assert url.hostname == f"{services['alert']['metadata']['name']}.meters.svc" and url.port == AM_WEBHOOK
    port = next(p for p in services["alert"]["spec"]["ports"] if p["port"] == AM_WEBHOOK)
    alert = deployments_spec(objects)["alert"]["containers"][0]
    assert port["targetPort"] in {p["name"] for p in alert["ports"] if p["containerPort"] == AM_WEBHOOK}
    env = {k: v["value"] for k, v in env_of(alert).items() if "value" in v}
    assert env["METERS_ALERTMANAGER_WEBHOOK_PORT"] == str(AM_WEBHOOK)
    assert env["METERS_ALERTMANAGER_WEBHOOK_HOST"] == "0.0.0.0"
    certificate = next(c for c in objects if c["kind"] == "Certificate"
                       and c["metadata"]["labels"]["app.kubernetes.io/component"] == "alert")
    assert url.hostname in certificate["spec"]["dnsNames"]  # Alertmanager verifies the name it called
    if shutil.which("amtool"):
        path = tmp_path / "alertmanager.yml"
        path.write_text(text)
        done = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stdout + done.stderr


def test_one_secret_holds_the_token_both_sides_read_from_a_file(rendered):
    objects = rendered["alertmanager"]
    specs = deployments_spec(objects)
    alert = specs["alert"]["containers"][0]
    token_file = env_of(alert)["METERS_ALERTMANAGER_TOKEN_FILE"]["value"]
    assert file_in_volume(specs["alert"], alert, token_file) == TOKEN_SECRET
    am = specs["alertmanager"]["containers"][0]
    hook = yaml.safe_load(alertmanager_yml(objects))["receivers"][0]["webhook_configs"][0]["http_config"]
    assert file_in_volume(specs["alertmanager"], am, hook["authorization"]["credentials_file"]) == TOKEN_SECRET
    # the mesh CA to verify alert_svc with: ca.crt of alert's own certificate Secret
    assert file_in_volume(specs["alertmanager"], am, hook["tls_config"]["ca_file"]) == ("meters-alert-tls", "ca.crt")
    config_mount = next(m for m in am["volumeMounts"] if m["name"] == "config")["mountPath"]
    assert f"--config.file={config_mount}/alertmanager.yml" in am["args"] and "--cluster.listen-address=" in am["args"]
    assert "--storage.path=/tmp/alertmanager" in am["args"]  # the writable emptyDir; the root is read-only


def test_alertmanager_config_change_rolls_its_pod():
    def checksum(*args):
        objects = template("--set", "alertmanager.enabled=true", *args)
        return of_kind(objects, "Deployment")["alertmanager"]["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"]

    assert checksum() != checksum("--set", "alertmanager.timing.repeatInterval=1h")
    assert checksum() == checksum("--set", "services.ingest.replicas=5")


def test_rules_are_the_platforms_as_a_prometheus_rule_or_a_configmap(rendered):
    rules = yaml.safe_load(RULES.read_text())
    assert "MetersAnomalyRateDrift" in {r.get("alert") for g in rules["groups"] for r in g["rules"]}
    [rule] = [o for o in rendered["alertmanager"] if o["kind"] == "PrometheusRule"]
    assert rule["spec"]["groups"] == rules["groups"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # without the Prometheus Operator: the rule file itself, for a Prometheus that mounts it
    objects = template("--set", "metrics.prometheusRules.enabled=true")
    assert not [o for o in objects if o["kind"] == "PrometheusRule"]
    [configmap] = [o for o in objects if o["metadata"]["name"] == "meters-prometheus-rules"]
    assert configmap["data"]["meters.yml"] == RULES.read_text()


def test_only_the_configmap_for_an_alertmanager_of_your_own():
    objects = template("--set", "alertmanager.enabled=true", "--set", "alertmanager.deploy=false")
    names = {(o["kind"], o["metadata"]["name"]) for o in objects if "alertmanager" in o["metadata"]["name"]}
    assert names == {("ConfigMap", "meters-alertmanager")}
    assert "METERS_ALERTMANAGER_TOKEN_FILE" in env_of(deployments_spec(objects)["alert"]["containers"][0])


@pytest.mark.parametrize("args, error", [
    (("--set", "alertmanager.token.name="), "alertmanager.token.name"),
    (("--set", "services.alert.enabled=false"), "enable services.alert"),
])
def test_refuses_alertmanager_without_its_token_or_alert_svc(args, error):
    assert error in refused("--set", "alertmanager.enabled=true", *args)


def test_plain_text_development_sends_over_http_without_a_ca():
    objects = template("--set", "alertmanager.enabled=true", "--set", "dev.plaintext=true", required=False)
    hook = yaml.safe_load(alertmanager_yml(objects))["receivers"][0]["webhook_configs"][0]
    assert hook["url"].startswith("http://") and "tls_config" not in hook["http_config"]
    assert AM_PORT == of_kind(objects, "Service")["alertmanager"]["spec"]["ports"][0]["port"]
