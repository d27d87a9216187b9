"""The Helm chart (helm/meters), rendered by scripts/helm_check.sh and read back as objects.

No Kubernetes here: these check what the chart would ask a cluster for. helm comes through the
Go module proxy on the first run (a few minutes, once); later runs take a few seconds.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import yaml

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "helm" / "meters"
HELM = Path(os.environ.get("METERS_TOOLS_BIN", Path.home() / ".cache" / "meters" / "bin")) / "helm"
GRPC_SERVICES = {"ingest", "scoring", "forecast", "customer", "alert"}
MODEL_USERS = {"scoring", "forecast", "customer"}
COMPONENT = "app.kubernetes.io/component"
SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/instance", COMPONENT}
TLS_COMPONENTS = GRPC_SERVICES | {"gateway"}
GRPC, HEALTH, METRICS, HTTP = 50051, 50052, 9100, 8080
AM_PORT, AM_WEBHOOK = 9093, 9095
# What an install must give beyond values.yaml (scripts/helm_check.sh's REQUIRED).
REQUIRED = ["--set", "auth.issuer=https://issuer.example.com", "--set", "auth.jwksUrl=https://issuer.example.com/jwks"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, list[dict]]:
    """{variant: objects} for the default values and each ci/*-values.yaml."""
    if shutil.which("go") is None and not HELM.exists():
        pytest.fail(f"neither go (to install helm through the Go module proxy) nor helm at {HELM}: install Go "
                    "(Debian package golang-go; .ci/run installs it) and rerun", pytrace=False)
    out = tmp_path_factory.mktemp("helm")
    run = subprocess.run([REPO / "scripts" / "helm_check.sh"], env=dict(os.environ, HELM_RENDER_DIR=str(out)),
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    variants = {p.stem: load(p.read_text()) for p in out.glob("*.yaml")}
    assert {"default", "minimal", "full"} <= variants.keys()
    return variants


def load(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def template(*args: str, required: bool = True) -> list[dict]:
    out = subprocess.run([HELM, "template", "meters", CHART, "--kube-version", "1.30.0", "--namespace", "meters",
                          *(REQUIRED if required else []), *args],
                         capture_output=True, text=True, check=True, timeout=60)
    return load(out.stdout)


def refused(*args: str) -> str:
    """helm's error when the chart refuses these values (fails if it renders)."""
    out = subprocess.run([HELM, "template", "meters", CHART, "--kube-version", "1.30.0", *REQUIRED, *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, f"the chart rendered with {args}"
    return out.stderr


def of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    """{component: object} of one kind."""
    return {o["metadata"]["labels"].get(COMPONENT, ""): o for o in objects if o["kind"] == kind}


def pod_specs(objects: list[dict]):
    for o in objects:
        if o["kind"] == "Deployment":
            yield o["metadata"]["name"], o["spec"]["template"]["spec"]
        elif o["kind"] == "Pod":
            yield o["metadata"]["name"], o["spec"]
        elif o["kind"] == "CronJob":
            yield o["metadata"]["name"], o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif o["kind"] == "RayCluster":  # KubeRay makes these pods
            yield o["metadata"]["name"] + "-head", o["spec"]["headGroupSpec"]["template"]["spec"]
            for group in o["spec"]["workerGroupSpecs"]:
                yield f'{o["metadata"]["name"]}-{group["groupName"]}', group["template"]["spec"]
        elif o["kind"] == "RayJob":
            yield o["metadata"]["name"] + "-submitter", o["spec"]["submitterPodTemplate"]["spec"]


def test_grpc_services_are_probed_natively_on_their_plain_text_health_port(rendered):
    deployments = of_kind(rendered["default"], "Deployment")
    assert deployments.keys() == GRPC_SERVICES | {"ingest-writer", "gateway"}
    for name in GRPC_SERVICES:
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            # kubelet's gRPC probes speak no TLS: the health-only port (meters/server.py health_port)
            assert container[probe]["grpc"] == {"port": ports["grpc-health"]}, (name, probe)
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["METERS_GRPC_ADDR"].endswith(f":{ports['grpc']}")
        assert env["METERS_HEALTH_PORT"] == str(ports["grpc-health"]) != str(ports["grpc"])
        assert container["command"][:2] == ["python", "-m"]


def test_writer_is_probed_on_metrics_and_has_no_service_gateway_has_one(rendered):
    objects = rendered["default"]
    writer = of_kind(objects, "Deployment")["ingest-writer"]["spec"]["template"]["spec"]["containers"][0]
    assert writer["readinessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert writer["command"] == ["python", "-m", "ingest_svc.writer"]
    services = of_kind(objects, "Service")
    assert services.keys() == GRPC_SERVICES | {"gateway"}
    gateway = of_kind(objects, "Deployment")["gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "https", "scheme": "HTTPS"}
    assert services["gateway"]["spec"]["ports"][0]["targetPort"] == "https"


@pytest.mark.parametrize("variant", ["default", "minimal", "full", "modelserver", "alertmanager", "ray", "rayjob"])
def test_every_pod_is_hardened(rendered, variant):
    specs = dict(pod_specs(rendered[variant]))
    assert any(o["kind"] == "Pod" for o in rendered[variant]), "the helm test pod is rendered"
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["enableServiceLinks"] is False, name
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
            assert "emptyDir" in volumes[tmp["name"]], name


def test_config_checksum_rolls_pods_when_the_config_changes(rendered):
    objects = rendered["default"]
    configmap = next(o for o in objects if o["kind"] == "ConfigMap")
    checksums = {o["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
                 for o in objects if o["kind"] == "Deployment"}
    assert len(checksums) == 1 and len(checksums.pop()) == 64
    assert configmap["data"]["METERS_KAFKA_BOOTSTRAP"] == "kafka:9092"

    def checksum(*args):
        deployments = of_kind(template(*args), "Deployment")
        return deployments["ingest"]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum() != checksum("--set", "kafka.bootstrap=other:9092")
    assert checksum() == checksum("--set", "services.ingest.replicas=5")


def test_selector_labels_are_minimal_and_stable(rendered):
    base = of_kind(rendered["default"], "Deployment")
    upgraded = of_kind(template("--set", "image.tag=9.9.9", "--set", "services.scoring.replicas=3"), "Deployment")
    services = of_kind(rendered["default"], "Service")
    for name, deployment in base.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.keys() == SELECTOR_KEYS and selector[COMPONENT] == name
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert upgraded[name]["spec"]["selector"]["matchLabels"] == selector, "selectors are immutable"
        if name in services:
            assert services[name]["spec"]["selector"] == selector
    assert upgraded["ingest"]["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":9.9.9")


def test_disabled_services_leave_no_objects(rendered):
    objects = rendered["minimal"]
    components = {o["metadata"]["labels"].get(COMPONENT) for o in objects}
    assert components == {None, "ingest", "ingest-writer", "test"}
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    assert "METERS_SCORING_ADDR" in rendered_config(rendered["default"])
    assert "METERS_SCORING_ADDR" not in config and config["METERS_INGEST_ADDR"].endswith(":50051")
    test_pod = next(o for o in objects if o["kind"] == "Pod")
    assert test_pod["spec"]["containers"][0]["args"] == ["meters-ingest:50051"]  # its TLS port
    for _, spec in pod_specs(objects):
        assert all(v["name"] != "models" for v in spec["volumes"]), "model registry disabled"


def rendered_config(objects: list[dict]) -> dict:
    """The environment ConfigMap every pod reads (not Alertmanager's or the rules')."""
    return next(o for o in objects if o["kind"] == "ConfigMap" and "METERS_KAFKA_BOOTSTRAP" in o["data"])["data"]


def test_model_registry_is_mounted_read_only_where_models_are_used(rendered):
    for variant, claim, created in (("default", "meters-models", True), ("full", "models-shared", False)):
        objects = rendered[variant]
        claims = [o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"]
        assert claims == ([claim] if created else []), variant
        for name, deployment in of_kind(objects, "Deployment").items():
            spec = deployment["spec"]["template"]["spec"]
            volumes = {v["name"]: v for v in spec["volumes"]}
            mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
            assert ("models" in volumes) == (name in MODEL_USERS), (variant, name)
            if name in MODEL_USERS:
                assert volumes["models"]["persistentVolumeClaim"]["claimName"] == claim
                assert mounts["models"]["readOnly"] is True
                assert mounts["models"]["mountPath"] == rendered_config(objects)["METERS_MODEL_REGISTRY"]


def test_full_variant_autoscales_guards_disruptions_and_is_monitored(rendered):
    objects = rendered["full"]
    hpas, pdbs = of_kind(objects, "HorizontalPodAutoscaler"), of_kind(objects, "PodDisruptionBudget")
    deployments = of_kind(objects, "Deployment")
    assert hpas.keys() == deployments.keys() - {"alert"}  # alert opts out of the default
    for name, deployment in deployments.items():
        assert ("replicas" in deployment["spec"]) == (name not in hpas), "the HPA owns replicas"
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert hpas["ingest-writer"]["spec"]["maxReplicas"] == 12
    monitors = {o["kind"]: o for o in objects if o["apiVersion"] == "monitoring.coreos.com/v1"}
    assert set(monitors["ServiceMonitor"]["spec"]["selector"]["matchExpressions"][0]["values"]) == GRPC_SERVICES
    assert monitors["PodMonitor"]["spec"]["selector"]["matchExpressions"][0]["values"] == ["ingest-writer"]
    assert monitors["ServiceMonitor"]["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_connection_test_script_compiles_and_checks_over_tls(rendered):
    pod = next(o for o in rendered["default"] if o["kind"] == "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    compile(container["command"][2], "test-connection", "exec")
    assert len(container["args"]) == len(GRPC_SERVICES) + 1  # + gateway /readyz
    assert [a for a in container["args"] if a.endswith(f":{GRPC}")] == [  # the TLS port, as the gateway dials it
        f"meters-{s}:{GRPC}" for s in sorted(GRPC_SERVICES)]
    assert container["args"][3] == f"https://meters-gateway:{HTTP}/readyz"
    # the gateway's certificate as the client's (it grants no role; health needs none)
    assert tls_secret(pod["spec"]) == "meters-gateway-tls"
    assert {e["name"]: e["value"] for e in container["env"]}["TEST_TLS_DIR"] == mounts(container)["tls"]["mountPath"]


def test_strict_decoding_rejects_a_misspelt_field(rendered):
    kubestrict = HELM.parent / "kubestrict"
    assert kubestrict.exists(), f"scripts/helm_check.sh builds {kubestrict} with go; it did not: see its output"
    command = [kubestrict, "-crds", REPO / "helm" / "kubestrict" / "crds"]
    good = yaml.safe_dump_all(rendered["full"])
    ok = subprocess.run(command, input=good, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(command, input=good.replace("timeoutSeconds", "timeoutSecond"), capture_output=True, text=True)
    assert bad.returncode == 1 and 'unknown field "spec.template.spec.containers[0].livenessProbe' in bad.stderr
    # custom resources against their CRDs: cert-manager's Certificate, Prometheus Operator's monitors
    for field, wrong, error in (("renewBefore", "renewBefor", 'unknown field "spec.renewBefor"'),
                                ("interval: 15s", "interval: 15 seconds", "spec.endpoints[0].interval"),
                                ("digital signature", "signing with ink", "spec.usages[0]")):
        bad = subprocess.run(command, input=good.replace(field, wrong), capture_output=True, text=True)
        assert bad.returncode == 1 and error in bad.stderr, (field, bad.stderr)


def test_model_server_is_off_by_default(rendered):
    for variant in ("default", "minimal"):
        objects = rendered[variant]
        assert "model-server" not in {o["metadata"]["labels"].get(COMPONENT) for o in objects}, variant
        assert not any("PREDICTOR_URL" in k for k in rendered_config(objects)), variant


def test_model_server_deployment_serves_the_registry_and_scoring_calls_it(rendered):
    objects = rendered["modelserver"]
    deployment = of_kind(objects, "Deployment")["model-server"]
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["command"] == ["/opt/kserve/bin/python", "-m", "model_serving.kserve_server"]
    assert container["image"].startswith("ghcr.io/meters-platform/meters-kserve:")
    config = rendered_config(objects)
    assert container["args"] == ["--model_registry", config["METERS_MODEL_REGISTRY"], "--http_port", "8080"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": 8080}
    assert {v["name"]: v for v in spec["volumes"]}["models"]["persistentVolumeClaim"]["claimName"] == "meters-models"
    service = of_kind(objects, "Service")["model-server"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    # remoteModels: [anomaly] -- the failure model stays in-process
    assert config["METERS_ANOMALY_PREDICTOR_URL"] == f"http://{service['metadata']['name']}:8080"
    assert "METERS_FAILURE_PREDICTOR_URL" not in config
    assert "env" not in container and "envFrom" not in container, "no database or Kafka settings"


def test_model_server_as_a_kserve_inference_service(rendered):
    objects = rendered["full"]
    isvc = next(o for o in objects if o["kind"] == "InferenceService")
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = isvc["spec"]["predictor"]
    container = predictor["containers"][0]
    assert predictor["minReplicas"] == 2 and predictor["securityContext"]["runAsNonRoot"] is True
    assert container["args"][:2] == ["--model_registry", "/mnt/models"]
    assert {e["name"]: e["value"] for e in container["env"]}["STORAGE_URI"] == "s3://meters-models/registry"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    url = f"http://{isvc['metadata']['name']}-predictor.meters.svc.cluster.local"
    config = rendered_config(objects)
    assert config["METERS_ANOMALY_PREDICTOR_URL"] == config["METERS_FAILURE_PREDICTOR_URL"] == url
    assert "model-server" not in of_kind(objects, "Deployment"), "KServe's controller makes the pods"
    # without storageUri the registry claim is the storage
    default_isvc = next(o for o in template("--set", "modelServer.enabled=true", "--set", "modelServer.kind=InferenceService")
                        if o["kind"] == "InferenceService")
    env = default_isvc["spec"]["predictor"]["containers"][0]["env"]
    assert {e["name"]: e["value"] for e in env}["STORAGE_URI"] == "pvc://meters-models/"


def test_nem12_drop_folder_is_mounted_in_ingest_only_when_a_claim_is_named(rendered):
    for variant, claim in (("default", None), ("full", "nem12-drop")):
        for name, deployment in of_kind(rendered[variant], "Deployment").items():
            spec = deployment["spec"]["template"]["spec"]
            volumes = {v["name"]: v for v in spec["volumes"]}
            mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
            env = {e["name"]: e.get("value") for e in spec["containers"][0].get("env") or []}
            mounted = claim is not None and name == "ingest"
            assert ("nem12-drop" in volumes) == mounted == ("METERS_NEM12_DROP_DIR" in env), (variant, name)
            if mounted:
                assert volumes["nem12-drop"]["persistentVolumeClaim"]["claimName"] == claim
                assert mounts["nem12-drop"]["mountPath"] == env["METERS_NEM12_DROP_DIR"] == "/nem12-drop"
                assert not mounts["nem12-drop"].get("readOnly")


# --- the perimeter (docs/security.md): certificates, identity, network policies, secrets ---

CREDENTIAL = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|KEY|DSN|CREDENTIAL", re.I)
URL_PASSWORD = re.compile(r"://[^/@:\s]*:[^/@\s]+@")
VARIANTS = ["default", "minimal", "full", "modelserver", "alertmanager"]


def mounts(container: dict) -> dict[str, dict]:
    return {m["name"]: m for m in container.get("volumeMounts", [])}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env") or []}


def tls_secret(spec: dict) -> str:
    """The Secret a pod's certificate and key come from (the projected `tls` volume)."""
    volume = {v["name"]: v for v in spec["volumes"]}["tls"]["projected"]
    (source,) = [s["secret"] for s in volume["sources"] if {i["path"] for i in s["secret"]["items"]} >= {"tls.crt"}]
    return source["name"]


def file_in_volume(spec: dict, container: dict, path: str) -> tuple[str, str]:
    """(volume name, key) a file path of a container comes from."""
    for name, mount in mounts(container).items():
        if path.startswith(mount["mountPath"] + "/"):
            volume = {v["name"]: v for v in spec["volumes"]}[name]
            rest = path[len(mount["mountPath"]) + 1:]
            sources = [s["secret"] for s in volume["projected"]["sources"]] if "projected" in volume else [volume["secret"]]
            for source in sources:
                for item in source["items"]:
                    if item["path"] == rest:
                        return source.get("name") or source["secretName"], item["key"]
    raise AssertionError(f"{path} is in no mounted Secret")


def deployments_spec(objects):
    return {name: d["spec"]["template"]["spec"] for name, d in of_kind(objects, "Deployment").items()}


@pytest.mark.parametrize("variant", ["default", "full", "modelserver"])
def test_cert_manager_certificate_per_service_and_gateway_mounted_where_the_process_reads_it(rendered, variant):
    objects = rendered[variant]
    prefix = "meters-prod" if variant == "full" else "meters"
    certificates = of_kind(objects, "Certificate")
    assert certificates.keys() == TLS_COMPONENTS
    for name, cert in certificates.items():
        spec = cert["spec"]
        service = f"{prefix}-{name}"
        assert cert["apiVersion"] == "cert-manager.io/v1"
        assert spec["commonName"] == name  # the identity roles.CERTIFICATE_ROLES reads ("scoring" raises alerts)
        assert spec["dnsNames"][:4] == [service, f"{service}.meters", f"{service}.meters.svc",
                                        f"{service}.meters.svc.cluster.local"]
        assert {"server auth", "client auth"} <= set(spec["usages"])
        assert spec["issuerRef"]["kind"] == ("ClusterIssuer" if variant == "full" else "Issuer")
        pod = deployments_spec(objects)[name]
        container = pod["containers"][0]
        env = {k: e.get("value") for k, e in env_of(container).items()}
        names = (("GATEWAY_TLS_CERT", "GATEWAY_TLS_KEY", "GATEWAY_TLS_CA") if name == "gateway"
                 else ("METERS_TLS_CERT_FILE", "METERS_TLS_KEY_FILE", "METERS_TLS_CA_FILE"))
        found = [file_in_volume(pod, container, env[n]) for n in names]
        ca = ("meters-mesh-ca-bundle", "bundle.pem") if variant == "full" else (spec["secretName"], "ca.crt")
        assert found == [(spec["secretName"], "tls.crt"), (spec["secretName"], "tls.key"), ca], name
        assert mounts(container)["tls"]["readOnly"] is True
    # the addresses the gateway and scoring dial are names on the certificates
    config = rendered_config(objects)
    for name in GRPC_SERVICES:
        assert config[f"{name.upper()}_ADDR"].split(":")[0] in certificates[name]["spec"]["dnsNames"]
    assert config["METERS_ALERT_ADDR"].split(":")[0] in certificates["alert"]["spec"]["dnsNames"]
    if variant == "full":
        assert certificates["gateway"]["spec"]["dnsNames"][4:] == ["api.meters.example.com"]
    assert not [o for o in objects if o["kind"] == "Secret"], "the chart never writes key material"


def test_existing_secrets_instead_of_cert_manager(rendered):
    objects = rendered["minimal"]  # tls.existingSecret: meters-tls, cert-manager off
    assert not of_kind(objects, "Certificate")
    assert tls_secret(deployments_spec(objects)["ingest"]) == "meters-tls"
    assert "tls" not in {v["name"] for v in deployments_spec(objects)["ingest-writer"]["volumes"]}, "no gRPC, no certificate"
    assert tls_secret(next(o for o in objects if o["kind"] == "Pod")["spec"]) == "meters-tls"
    # one component from a Secret of yours, the others from cert-manager
    mixed = template("--set", "tls.existingSecrets.scoring=scoring-from-vault")
    assert of_kind(mixed, "Certificate").keys() == TLS_COMPONENTS - {"scoring"}
    specs = deployments_spec(mixed)
    assert tls_secret(specs["scoring"]) == "scoring-from-vault"
    assert tls_secret(specs["alert"]) == "meters-alert-tls"
    assert "tls: no certificate for" in refused("--set", "tls.certManager.enabled=false")


# Who may open a connection to whom, read back from the rendered NetworkPolicies:
# (source, destination component, port); sources are components, "prometheus", "any" or an ipBlock CIDR.
def mesh_edges(grpc: set[str], gateway: bool, writer: bool = True) -> set[tuple[str, str, int]]:
    edges = {("test", s, GRPC) for s in grpc} | {("prometheus", s, METRICS) for s in grpc}
    if writer:
        edges.add(("prometheus", "ingest-writer", METRICS))
    if gateway:
        edges |= {("gateway", s, GRPC) for s in grpc} | {("any", "gateway", HTTP), ("test", "gateway", HTTP)}
    if {"scoring", "alert"} <= grpc:
        edges.add(("scoring", "alert", GRPC))
    if {"forecast", "customer"} <= grpc:
        edges.add(("forecast", "customer", GRPC))
    return edges


def peer_name(peer: dict, prometheus: dict) -> str:
    if "ipBlock" in peer:
        return peer["ipBlock"]["cidr"]
    if peer == prometheus:
        return "prometheus"
    if peer.keys() == {"namespaceSelector"}:
        return "namespace " + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    assert peer.keys() == {"podSelector"}, f"a peer outside the release: {peer}"
    labels = peer["podSelector"]["matchLabels"]
    assert labels["app.kubernetes.io/instance"] == "meters" and labels["app.kubernetes.io/name"] == "meters"
    return labels[COMPONENT]


def policies(objects) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "NetworkPolicy"}


def ingress_edges(objects, prometheus: dict) -> set[tuple[str, str, int]]:
    edges = set()
    for policy in policies(objects).values():
        target = policy["spec"]["podSelector"]["matchLabels"].get(COMPONENT)
        for rule in policy["spec"].get("ingress", []):
            sources = [peer_name(p, prometheus) for p in rule["from"]] if "from" in rule else ["any"]
            for port in rule["ports"]:
                assert port["protocol"] == "TCP"
                edges |= {(src, target, port["port"]) for src in sources}
    return edges


DEFAULT_PROMETHEUS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                      "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}


@pytest.mark.parametrize("variant, expected", [
    ("default", mesh_edges(GRPC_SERVICES, gateway=True)),
    ("minimal", mesh_edges({"ingest"}, gateway=False)),
    ("modelserver", mesh_edges(GRPC_SERVICES, gateway=True) | {("scoring", "model-server", 8080)}),
    ("alertmanager", mesh_edges(GRPC_SERVICES, gateway=True) | {("alertmanager", "alert", AM_WEBHOOK),
                                                                 ("prometheus", "alertmanager", AM_PORT)}),
])
def test_network_policies_allow_exactly_the_calls_the_mesh_makes(rendered, variant, expected):
    objects = rendered[variant]
    assert ingress_edges(objects, DEFAULT_PROMETHEUS) == expected
    deny = policies(objects)["meters-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress"] and "ingress" not in deny  # egress is off by default
    assert all(p["spec"]["policyTypes"] == ["Ingress"] for p in policies(objects).values())
    # the deny-all selects every pod the chart makes (KServe's own pods are KServe's)
    selector = deny["podSelector"]
    (expression,) = selector["matchExpressions"]
    pods = [o["spec"]["template"]["metadata"]["labels"] for o in objects if o["kind"] == "Deployment"]
    pods += [o["metadata"]["labels"] for o in objects if o["kind"] == "Pod"]
    for labels in pods:
        assert selector["matchLabels"].items() <= labels.items() and labels[COMPONENT] in expression["values"]


def test_full_variant_policies_name_their_sources_and_restrict_egress(rendered):
    objects = rendered["full"]
    prometheus = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
                  "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
    expected = mesh_edges(GRPC_SERVICES, gateway=True) - {("any", "gateway", HTTP)}
    expected |= {("namespace ingress-nginx", "gateway", HTTP),  # networkPolicy.gatewayFrom
                 ("10.20.0.0/16", "ingest", GRPC)}  # networkPolicy.extraIngress: head-end systems
    assert ingress_edges(objects, prometheus) == expected
    assert policies(objects)["meters-prod-default-deny"]["spec"]["policyTypes"] == ["Ingress", "Egress"]

    def egress(component):
        return policies(objects)[f"meters-prod-{component}"]["spec"]["egress"]

    def reaches(component, port):
        return [r for r in egress(component) if {"port": port, "protocol": "TCP"} in r["ports"]]

    assert [r["to"] for r in reaches("scoring", GRPC)] == [[{"podSelector": {"matchLabels": {
        "app.kubernetes.io/component": "alert", "app.kubernetes.io/instance": "meters", "app.kubernetes.io/name": "meters"}}}]]
    assert {r["to"][0]["podSelector"]["matchLabels"][COMPONENT] for r in reaches("gateway", GRPC)} == GRPC_SERVICES
    assert not reaches("alert", GRPC) and not reaches("ingest", GRPC), "only the gateway and scoring call services"
    components = of_kind(objects, "Deployment").keys()
    for component in components:
        assert any({"port": 53, "protocol": "UDP"} in r["ports"] for r in egress(component)), component
        assert bool(reaches(component, 5432)) == (component != "gateway"), component
        assert bool(reaches(component, 9092)) == (component not in ("gateway", "alert")), component
        assert bool(reaches(component, 587)) == (component == "alert"), component  # SMTP
        jwks = [r for r in reaches(component, 443) if r["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"]
        assert bool(jwks) == (component in GRPC_SERVICES), component  # the JWKS; alert's channels too
    # scoring reaches KServe's predictor pods
    isvc = [r for r in egress("scoring") if r["to"][0].get("podSelector", {}).get("matchLabels", {}).get(
        "serving.kserve.io/inferenceservice")]
    assert [r["to"][0]["podSelector"]["matchLabels"] for r in isvc] == [
        {"serving.kserve.io/inferenceservice": "meters-prod-model-server"}]
    assert "networkPolicy.egress.postgresql" in refused("--set", "networkPolicy.egress.enabled=true")


@pytest.mark.parametrize("variant", VARIANTS + ["rayjob", "plaintext"])
def test_no_credential_is_a_plain_value(rendered, variant):
    objects = rendered[variant] if variant in rendered else template("--set", "dev.plaintext=true", required=False)
    for name, spec in [*pod_specs(objects), *[(o["metadata"]["name"], o["spec"]["predictor"])
                                               for o in objects if o["kind"] == "InferenceService"]]:
        for container in spec["containers"]:
            for var in container.get("env") or []:
                if "value" in var:
                    assert not URL_PASSWORD.search(var["value"]), (name, var)
                    if CREDENTIAL.search(var["name"]):  # only a path to a file of a mounted Secret
                        file_in_volume(spec, container, var["value"])
                else:
                    assert var["valueFrom"].keys() == {"secretKeyRef"}, (name, var)
    for key, value in rendered_config(objects).items():
        assert not CREDENTIAL.search(key) and not URL_PASSWORD.search(value), key


def test_alert_channels_credentials_come_from_secrets_into_alert_only(rendered):
    specs = deployments_spec(rendered["full"])
    alert = env_of(specs["alert"]["containers"][0])
    refs = {k: (v["valueFrom"]["secretKeyRef"]["name"], v["valueFrom"]["secretKeyRef"]["key"])
            for k, v in alert.items() if "valueFrom" in v}
    assert refs == {
        "METERS_PG_DSN": ("meters-pg", "url"),
        "METERS_PAGERDUTY_ROUTING_KEY": ("meters-alert-channels", "pagerduty-routing-key"),
        "METERS_TEAMS_WEBHOOK_URL": ("meters-alert-channels", "teams-webhook-url"),
        "METERS_SERVICENOW_USER": ("meters-servicenow", "user"),
        "METERS_SERVICENOW_PASSWORD": ("meters-servicenow", "password"),
        "METERS_SMTP_USER": ("meters-smtp", "user"),
        "METERS_SMTP_PASSWORD": ("meters-smtp", "password"),
    }
    assert alert["METERS_EMAIL_TO"]["value"] == "grid-ops@example.com,on-call@example.com"
    for name, spec in specs.items():
        if name != "alert":
            assert not [k for k in env_of(spec["containers"][0]) if "PAGERDUTY" in k or "SMTP" in k], name
    # by default no channel is on: no credential is referenced
    default_alert = env_of(deployments_spec(rendered["default"])["alert"]["containers"][0])
    assert [k for k, v in default_alert.items() if "valueFrom" in v] == ["METERS_PG_DSN"]


@pytest.mark.parametrize("args, error", [
    (("--set", "services.alert.env.METERS_SMTP_PASSWORD=hunter2"), "METERS_SMTP_PASSWORD"),
    (("--set", "defaults.env.meters_pagerduty_routing_key=R0UT1NG"), "meters_pagerduty_routing_key"),
    (("--set", "services.scoring.env.DATABASE_URL=postgresql://meters:hunter2@db/meters"), "DATABASE_URL"),
    (("--set-string", "alertChannels.pagerduty.routingKey=R0UT1NG"), "routingKey"),
    (("--set", "postgresql.dsn=postgresql://meters:hunter2@db/meters"), "dsn"),
    (("--set", "pii.key=0123456789abcdef0123456789abcdef"), "key"),
])
def test_schema_rejects_a_credential_given_as_a_plain_value(rendered, args, error):
    message = refused(*args)
    assert "schema" in message and error in message, message


@pytest.mark.parametrize("variant", ["default", "full"])
def test_pii_key_is_a_mounted_file_where_identifiers_are_hashed(rendered, variant):
    secret = {"default": ("meters-pii", "key"), "full": ("meters-pii-prod", "hmac-key")}[variant]
    for name, spec in deployments_spec(rendered[variant]).items():
        container = spec["containers"][0]
        path = {k: e.get("value") for k, e in env_of(container).items()}.get("METERS_PII_KEY_FILE")
        assert (path is not None) == (name in {"ingest", "customer"}), name
        if path:
            assert file_in_volume(spec, container, path) == secret
    assert "pii.existingSecret" in refused("--set", "pii.existingSecret=")


def settings_env(objects, name: str) -> dict[str, str]:
    """The literal environment a component's process starts with (ConfigMap, then its own env)."""
    container = deployments_spec(objects)[name]["containers"][0]
    return {**rendered_config(objects), **{k: e["value"] for k, e in env_of(container).items() if "value" in e}}


SETTINGS = {"ingest": "ingest_svc.config:IngestSettings", "scoring": "scoring_svc.config:ScoringSettings",
            "forecast": "forecast_svc.config:ForecastSettings", "customer": "customer_svc.config:CustomerSettings",
            "alert": "alert_svc.config:AlertSettings"}


def load_settings(monkeypatch, name: str, env: dict[str, str]):
    import importlib
    for key in [k for k in os.environ if k.upper().startswith("METERS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    module, cls = SETTINGS[name].split(":")
    return getattr(importlib.import_module(module), cls)()


def test_services_read_the_chart_settings_as_secure(rendered, monkeypatch):
    """Each service's own settings class, fed the rendered environment: TLS, tokens, no reflection."""
    objects = rendered["full"]
    for name in GRPC_SERVICES:
        env = settings_env(objects, name)
        fields = {f"METERS_{f.upper()}" for f in type(load_settings(monkeypatch, name, {})).model_fields}
        container = deployments_spec(objects)[name]["containers"][0]
        unknown = {k for k in env_of(container) if k.startswith("METERS_")} - fields
        assert not unknown, f"{name} reads no setting named {unknown}"
        settings = load_settings(monkeypatch, name, env)
        assert settings.dev_plaintext is False and settings.reflection is False, name
        assert settings.tls_cert_file == "/etc/meters/tls/tls.crt" and settings.tls_ca_file == "/etc/meters/tls/ca.crt"
        assert settings.auth_issuer.startswith("https://login.microsoftonline.com/") and settings.auth_jwks_url, name
        assert settings.health_port == HEALTH and settings.grpc_addr == f"[::]:{GRPC}", name
    gateway = {e["name"] for e in deployments_spec(objects)["gateway"]["containers"][0]["env"]}
    source = "".join(p.read_text() for p in (REPO / "gateway").glob("*.go"))
    assert gateway and all(f'"{name}"' in source for name in gateway), "names the gateway reads"


@pytest.mark.parametrize("variant", VARIANTS)
def test_plain_text_and_reflection_are_off(rendered, variant, monkeypatch):
    objects = rendered[variant]
    config = rendered_config(objects)
    assert config["METERS_REFLECTION"] == "false"
    assert load_settings(monkeypatch, "ingest", {"METERS_REFLECTION": config["METERS_REFLECTION"]}).reflection is False
    for _, spec in pod_specs(objects):
        names = {*config, *(e["name"] for c in spec["containers"] for e in c.get("env") or [])}
        assert not {"METERS_DEV_PLAINTEXT", "GATEWAY_DEV_PLAINTEXT"} & names
    assert of_kind(objects, "Certificate") or variant == "minimal"


def test_plain_text_only_with_dev_plaintext():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert values["dev"]["plaintext"] is False and schema["properties"]["dev"]["properties"]["plaintext"]["default"] is False
    assert "auth.issuer" in refused("--set", "auth.issuer=")
    objects = template("--set", "dev.plaintext=true", required=False)  # no issuer needed in development
    config = rendered_config(objects)
    assert config["METERS_DEV_PLAINTEXT"] == config["GATEWAY_DEV_PLAINTEXT"] == "1"
    assert "METERS_AUTH_ISSUER" not in config
    assert not of_kind(objects, "Certificate")
    for name, spec in pod_specs(objects):
        assert "tls" not in {v["name"] for v in spec["volumes"]}, name
    gateway = of_kind(objects, "Deployment")["gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gateway["readinessProbe"]["httpGet"]["scheme"] == "HTTP"
    test_pod = next(o for o in objects if o["kind"] == "Pod")["spec"]["containers"][0]
    assert f"http://meters-gateway:{HTTP}/readyz" in test_pod["args"] and "env" not in test_pod


def test_training_cronjobs_run_the_local_schedulers_jobs_on_the_same_schedules(rendered):
    """One CronJob per job of meters/model_lifecycle/schedules.py (anomaly weekly, failure and
    segmentation monthly, forecast daily, the forecast decision daily), each `meters <argv> --job
    cronjob` in UTC, one run at a time, the registry claim mounted read-write, the DSN from its Secret."""
    from apscheduler.triggers.cron import CronTrigger

    from meters.model_lifecycle.schedules import JOBS

    cronjobs = of_kind(rendered["default"], "CronJob")
    assert cronjobs.keys() == {f"train-{job.name}" for job in JOBS}
    for job in JOBS:
        cron = cronjobs[f"train-{job.name}"]["spec"]
        assert cron["schedule"] == job.cron and cron["timeZone"] == "Etc/UTC", job.name
        CronTrigger.from_crontab(cron["schedule"])  # a valid cron expression
        assert cron["concurrencyPolicy"] == "Forbid"
        pod = cron["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        (container,) = pod["containers"]
        assert container["command"] == ["python", "-m", "meters.cli", *job.argv, "--job", "cronjob"]
        env = {e["name"]: e for e in container["env"]}
        assert env["METERS_PG_DSN"]["valueFrom"]["secretKeyRef"]["name"] == "meters-postgresql"
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert env["METERS_MODEL_REGISTRY"]["value"] == mounts["models"]["mountPath"]
        assert not mounts["models"].get("readOnly"), "training writes new versions and pointers"
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["models"]["persistentVolumeClaim"]["claimName"] == "meters-models"
    values = yaml.safe_load((CHART / "values.yaml").read_text())["training"]["jobs"]
    assert [(j["name"], j["schedule"], tuple(j["args"])) for j in values] == [(j.name, j.cron, j.argv) for j in JOBS]


def test_training_cronjobs_only_with_a_model_registry_and_when_enabled(rendered):
    assert not of_kind(rendered["minimal"], "CronJob")  # no model registry there
    assert not of_kind(template("--set", "training.enabled=false"), "CronJob")
    assert "schedule" in refused("--set", "training.jobs[0].schedule=daily")


def test_tracing_endpoint_reaches_every_python_component_and_its_collector(rendered):
    for variant, on in (("default", False), ("full", True)):
        for component, d in of_kind(rendered[variant], "Deployment").items():
            container = d["spec"]["template"]["spec"]["containers"][0]
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            python = component != "gateway"
            assert ("METERS_OTLP_ENDPOINT" in env) == (on and python), (variant, component)
            if on and python:
                assert env["METERS_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318/v1/traces"
                assert env["METERS_TRACE_SAMPLE_RATIO"] == "0.05"
    scoring = of_kind(rendered["full"], "NetworkPolicy")["scoring"]["spec"]["egress"]
    assert any(rule.get("ports") == [{"port": 4318, "protocol": "TCP"}] for rule in scoring)


def test_kafka_consumers_scale_on_their_groups_lag_with_keda(rendered):
    """kafka-cluster variant: the writer and scorer get KEDA ScaledObjects (no HPA of the chart's own)
    on the consumer groups and topics the services really use, reading the lag over the services' own
    TLS / SCRAM; the default variant renders no KEDA object."""
    from ingest_svc.config import WriterSettings
    from meters import kafka
    from scoring_svc.config import ScoringSettings

    objects = rendered["kafka-cluster"]
    scaled, hpas = of_kind(objects, "ScaledObject"), of_kind(objects, "HorizontalPodAutoscaler")
    assert set(scaled) == {"ingest-writer", "scoring"} and not set(scaled) & set(hpas)
    writer = WriterSettings()
    groups = {name: [(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in s["spec"]["triggers"]
                     if t["type"] == "kafka"] for name, s in scaled.items()}
    assert groups == {"ingest-writer": [(writer.group_id, kafka.READINGS_TOPIC),
                                        (writer.events_group_id, kafka.EVENTS_TOPIC)],
                      "scoring": [(ScoringSettings().group_id, kafka.READINGS_TOPIC)]}
    for s in scaled.values():
        assert s["spec"]["maxReplicaCount"] == kafka.DEFAULT_TOPICS[kafka.READINGS_TOPIC]  # one member a partition
        kafka_triggers = [t for t in s["spec"]["triggers"] if t["type"] == "kafka"]
        assert all(t["metadata"]["sasl"] == "scram_sha512" and t["metadata"]["tls"] == "enable" for t in kafka_triggers)
        assert {t["authenticationRef"]["name"] for t in kafka_triggers} == {"meters-kafka"}
        assert [t["type"] for t in s["spec"]["triggers"]][-1] == "cpu"  # the CPU target stays a trigger
    auth = {o["metadata"]["name"]: o for o in objects if o["kind"] == "TriggerAuthentication"}["meters-kafka"]
    assert {r["parameter"]: r["name"] for r in auth["spec"]["secretTargetRef"]} == {
        "password": "meters", "ca": "meters-cluster-ca-cert"}
    assert not [o for o in rendered["default"] if o["apiVersion"].startswith("keda.sh/")]


def test_a_partial_kafka_lag_setting_is_refused_naming_the_key():
    err = refused("--set", "services.scoring.autoscaling.enabled=true",
                  "--set-json", 'services.scoring.autoscaling.kafkaLag={"enabled": true}')
    assert "services.scoring.autoscaling.kafkaLag.pollingInterval: give every key" in err


def test_ray_job_runs_its_entrypoint_on_the_charts_ray_cluster(rendered):
    """KubeRay's RayJob (off by default) submits ray.job.entrypoint to the chart's RayCluster; only
    then does the head get the services' settings and open its job API, behind Ray token auth."""
    for variant in ("default", "ray"):
        assert not [o for o in rendered[variant] if o["kind"] == "RayJob"], variant
    (cluster,) = (o for o in rendered["ray"] if o["kind"] == "RayCluster")
    assert cluster["spec"]["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "127.0.0.1"
    assert "authOptions" not in cluster["spec"]
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert "envFrom" not in head and {e["name"] for e in head["env"]} == {"RAY_USAGE_STATS_ENABLED"}

    objects = rendered["rayjob"]
    (cluster,) = (o for o in objects if o["kind"] == "RayCluster")
    (job,) = (o for o in objects if o["kind"] == "RayJob")
    values = yaml.safe_load((CHART / "ci" / "rayjob-values.yaml").read_text())
    assert job["spec"]["clusterSelector"] == {"ray.io/cluster": cluster["metadata"]["name"]}
    assert job["spec"]["entrypoint"] == values["ray"]["job"]["entrypoint"]
    assert "--ray auto" in job["spec"]["entrypoint"] and job["spec"]["submissionMode"] == "K8sJobMode"
    assert cluster["spec"]["authOptions"] == {"mode": "token"}
    assert cluster["spec"]["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["envFrom"] == [{"configMapRef": {"name": "meters"}}]
    assert {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in head["env"] if "valueFrom" in e} == {
        "METERS_PG_DSN": "meters-postgresql"}
    for group in cluster["spec"]["workerGroupSpecs"]:  # the tasks get their inputs from the driver
        assert "envFrom" not in group["template"]["spec"]["containers"][0]

    assert "ray.job.enabled needs ray.enabled" in refused("--set", "ray.job.enabled=true",
                                                          "--set", "ray.job.entrypoint=meters evaluate")
    assert "ray.job.entrypoint" in refused("--set", "ray.enabled=true", "--set", "ray.job.enabled=true")

    kubestrict = HELM.parent / "kubestrict"
    command = [kubestrict, "-crds", REPO / "helm" / "kubestrict" / "crds"]
    good = yaml.safe_dump_all(objects)
    ok = subprocess.run(command, input=good, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(command, input=good.replace("clusterSelector", "clusterSelecter"), capture_output=True,
                         text=True)
    assert bad.returncode == 1 and 'RayJob meters-ray-job: unknown field "spec.clusterSelecter"' in bad.stderr
