"""The Helm chart (helm/meters), rendered by scripts/helm_check.sh and read back as objects.

No Kubernetes here: these check what the chart would ask a cluster for. helm comes through the
Go module proxy on the first run (a few minutes, once); later runs take a few seconds.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is missing: add pyyaml to pyproject's dev extras")

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "helm" / "meters"
HELM = Path(os.environ.get("METERS_TOOLS_BIN", Path.home() / ".cache" / "meters" / "bin")) / "helm"
GRPC_SERVICES = {"ingest", "scoring", "forecast", "customer", "alert"}
MODEL_USERS = {"scoring", "forecast", "customer"}
COMPONENT = "app.kubernetes.io/component"
SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/instance", COMPONENT}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, list[dict]]:
    """{variant: objects} for the default values and each ci/*-values.yaml."""
    if shutil.which("go") is None and not HELM.exists():
        pytest.skip("neither go (to install helm through the Go module proxy) nor a cached helm")
    out = tmp_path_factory.mktemp("helm")
    run = subprocess.run([REPO / "scripts" / "helm_check.sh"], env=dict(os.environ, HELM_RENDER_DIR=str(out)),
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    variants = {p.stem: load(p.read_text()) for p in out.glob("*.yaml")}
    assert {"default", "minimal", "full"} <= variants.keys()
    return variants


def load(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def template(*args: str) -> list[dict]:
    out = subprocess.run([HELM, "template", "meters", CHART, "--kube-version", "1.30.0", *args],
                         capture_output=True, text=True, check=True, timeout=60)
    return load(out.stdout)


def of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    """{component: object} of one kind."""
    return {o["metadata"]["labels"].get(COMPONENT, ""): o for o in objects if o["kind"] == kind}


def pod_specs(objects: list[dict]):
    for o in objects:
        if o["kind"] == "Deployment":
            yield o["metadata"]["name"], o["spec"]["template"]["spec"]
        elif o["kind"] == "Pod":
            yield o["metadata"]["name"], o["spec"]


def test_grpc_services_are_probed_natively_on_their_grpc_port(rendered):
    deployments = of_kind(rendered["default"], "Deployment")
    assert deployments.keys() == GRPC_SERVICES | {"ingest-writer", "gateway"}
    for name in GRPC_SERVICES:
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        grpc_port = {p["name"]: p["containerPort"] for p in container["ports"]}["grpc"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": grpc_port}, (name, probe)
        addr = {e["name"]: e.get("value") for e in container["env"]}["METERS_GRPC_ADDR"]
        assert addr.endswith(f":{grpc_port}")
        assert container["command"][:2] == ["python", "-m"]


def test_writer_is_probed_on_metrics_and_has_no_service_gateway_has_one(rendered):
    objects = rendered["default"]
    writer = of_kind(objects, "Deployment")["ingest-writer"]["spec"]["template"]["spec"]["containers"][0]
    assert writer["readinessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert writer["command"] == ["python", "-m", "ingest_svc.writer"]
    services = of_kind(objects, "Service")
    assert services.keys() == GRPC_SERVICES | {"gateway"}
    gateway = of_kind(objects, "Deployment")["gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert services["gateway"]["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("variant", ["default", "minimal", "full", "modelserver"])
def test_every_pod_is_hardened(rendered, variant):
    specs = dict(pod_specs(rendered[variant]))
    assert any(o["kind"] == "Pod" for o in rendered[variant]), "the helm test pod is rendered"
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
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
    assert test_pod["spec"]["containers"][0]["args"] == ["meters-ingest:50051"]
    for _, spec in pod_specs(objects):
        assert all(v["name"] != "models" for v in spec["volumes"]), "model registry disabled"


def rendered_config(objects: list[dict]) -> dict:
    return next(o for o in objects if o["kind"] == "ConfigMap")["data"]


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


def test_connection_test_script_compiles(rendered):
    pod = next(o for o in rendered["default"] if o["kind"] == "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    command = pod["spec"]["containers"][0]["command"]
    compile(command[2], "test-connection", "exec")
    assert len(pod["spec"]["containers"][0]["args"]) == len(GRPC_SERVICES) + 1  # + gateway /readyz


def test_strict_decoding_rejects_a_misspelt_field(rendered):
    kubestrict = HELM.parent / "kubestrict"
    if not kubestrict.exists():
        pytest.skip("kubestrict is built by scripts/helm_check.sh only where go is installed")
    good = yaml.safe_dump_all(rendered["default"])
    assert subprocess.run([kubestrict], input=good, capture_output=True, text=True).returncode == 0
    bad = subprocess.run([kubestrict], input=good.replace("timeoutSeconds", "timeoutSecond"),
                         capture_output=True, text=True)
    assert bad.returncode == 1 and 'unknown field "spec.template.spec.containers[0].livenessProbe' in bad.stderr


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
