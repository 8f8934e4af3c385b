"""The Kubernetes manifests (deploy/kubernetes) render, validate and keep their promises, offline.

Every kustomization is rendered by the real `kubectl kustomize`; every object of the `dev` and `prod`
overlays is validated by kubernetes-validate against Kubernetes KUBERNETES_VERSION in strict mode
(an unknown or misspelt field is an error). Knative Services have no schema there: they are checked
as YAML only (SCHEMA_LESS), by the wiring tests below. No cluster is needed; nothing is applied.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from core.settings import ENV_ALIASES, ENV_PREFIX, load_settings
from salescast.cli.main import build_parser

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy" / "kubernetes"
DOC = REPO_ROOT / "docs" / "deploy-kubernetes.md"
KUBERNETES_VERSION = "1.31"  # the API the manifests must be valid for (docs/deploy-kubernetes.md)
OVERLAYS = ("dev", "prod")
KUSTOMIZATIONS = {"dev": DEPLOY / "overlays" / "dev", "prod": DEPLOY / "overlays" / "prod"}
KNATIVE = DEPLOY / "knative"
# Custom resources without a schema in kubernetes-validate: checked as YAML only.
SCHEMA_LESS = {("serving.knative.dev/v1", "Service"): "Knative Service"}
WORKLOADS = ("Deployment", "StatefulSet", "Job")
LONG_RUNNING = ("Deployment", "StatefulSet")
MANAGEMENT_PORT = 8081  # configs/default.yaml torchserve.management_port
# docs/benchmarks.md, "300 categories under a memory budget": 6506 MB private with 40 loaded = the
# frontend JVM's 378 MB + 6128 MB for 40 model workers.
TORCHSERVE_JVM_MB = 378
TORCHSERVE_WORKER_MB = 6128 / 40
# Variables read by third-party code, not by core.settings.
OTHER_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3"}
SERVE_IMAGE = "salescast-serve"  # its entrypoint is `serve torchserve`; it takes no arguments

Manifest = dict[str, Any]

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None,
    reason="kubectl is not installed: the manifests are rendered by `kubectl kustomize` (CI has it)",
)


@cache
def _render(path: Path) -> tuple[Manifest, ...]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return tuple(item for item in yaml.safe_load_all(result.stdout) if item)


def rendered(overlay: str) -> tuple[Manifest, ...]:
    return _render(KUSTOMIZATIONS[overlay])


def of_kind(objects: tuple[Manifest, ...], kind: str) -> list[Manifest]:
    return [item for item in objects if item["kind"] == kind]


def named(objects: tuple[Manifest, ...], kind: str, name: str) -> Manifest:
    matches = [item for item in of_kind(objects, kind) if item["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def pod_spec(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: Manifest) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"].get("labels", {})
    return labels


def containers(
    objects: tuple[Manifest, ...], kinds: tuple[str, ...] = WORKLOADS
) -> Iterator[tuple[str, Manifest]]:
    for workload in objects:
        if workload["kind"] in kinds:
            for container in pod_spec(workload)["containers"]:
                yield f"{workload['kind']}/{workload['metadata']['name']}/{container['name']}", container


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def env_value(container: Manifest, name: str) -> str:
    for item in container.get("env", []):
        if item["name"] == name:
            value: str = item["value"]
            return value
    raise AssertionError(f"{container['name']} has no literal {name}")


def config_map_data(objects: tuple[Manifest, ...], name: str) -> dict[str, str]:
    data: dict[str, str] = named(objects, "ConfigMap", name).get("data", {})
    return data


def container_environ(objects: tuple[Manifest, ...], container: Manifest) -> dict[str, str]:
    """The variables a container starts with: its ConfigMaps, then its env (secrets as placeholders)."""
    environ: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            environ.update(config_map_data(objects, source["configMapRef"]["name"]))
    for item in container.get("env", []):
        environ[item["name"]] = item.get("value", "from-a-secret")
    return environ


def budget(objects: tuple[Manifest, ...]) -> int:
    return int(config_map_data(objects, "salescast-env")["SALESCAST_TORCHSERVE__MAX_LOADED_MODELS"])


def memory_mb(quantity: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor / 10**6
    return float(quantity) / 10**6


# ---- rendering and schema validation ---------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_kubernetes(overlay: str) -> None:
    """Strict schema validation of every rendered object; only the named custom resources lack one."""
    objects = rendered(overlay)
    assert {"Deployment", "StatefulSet", "Job", "NetworkPolicy", "PodDisruptionBudget"} <= {
        item["kind"] for item in objects
    }
    errors = []
    for item in objects:
        where = f"{item['kind']}/{item['metadata']['name']}"
        try:
            kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{where}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{where}: no schema for {item['apiVersion']} (not a known custom resource)")
    assert not errors, "\n".join(errors)


def test_strict_validation_catches_a_misspelt_field() -> None:
    """The control: the same validation refuses a probe written with the wrong case."""
    gateway = named(rendered("prod"), "Deployment", "gateway")
    broken = yaml.safe_load(yaml.safe_dump(gateway))
    container = pod_spec(broken)["containers"][0]
    container["livenessprobe"] = container.pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_knative_services_are_yaml_checked_only() -> None:
    """Knative has no schema here: named as such, and its Services checked field by field."""
    objects = _render(KNATIVE)
    assert objects, "the knative kustomization renders nothing"
    for item in objects:
        assert (item["apiVersion"], item["kind"]) in SCHEMA_LESS, f"{item['kind']} should be schema-checked"
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(item, KUBERNETES_VERSION, strict=True)
        spec = item["spec"]["template"]["spec"]
        assert set(spec) <= {"containers", "containerConcurrency", "timeoutSeconds"}, set(spec)
        (container,) = spec["containers"]
        assert len(container["ports"]) == 1, "Knative routes to exactly one container port"
        for probe in ("readinessProbe", "livenessProbe"):
            assert "port" not in container[probe]["httpGet"], "Knative probes use the serving port"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        _check_command(item["metadata"]["name"], container)
        load_settings(environ=container_environ(objects, container))
    gateway = named(objects, "Service", "salescast-gateway")["spec"]["template"]
    (container,) = gateway["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] != "/api/health"
    assert gateway["metadata"]["labels"]["salescast.io/torchserve-client"] == "true"
    assert int(env_value(container, "SALESCAST_TORCHSERVE__MAX_LOADED_MODELS")) == budget(rendered("prod"))
    host = urlsplit(env_value(container, "SALESCAST_TORCHSERVE__INFERENCE_URL")).hostname
    namespace = named(rendered("prod"), "StatefulSet", "torchserve-0")["metadata"]["namespace"]
    assert host == f"torchserve-0.{namespace}.svc.cluster.local"


# ---- what every workload needs ----------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_long_running_containers_have_probes(overlay: str) -> None:
    found = list(containers(rendered(overlay), LONG_RUNNING))
    assert len(found) >= 4
    for where, container in found:
        assert "readinessProbe" in container, f"{where}: no readiness probe"
        assert "livenessProbe" in container, f"{where}: no liveness probe"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_liveness_survives_a_torchserve_outage(overlay: str) -> None:
    """Ready = /api/health (503 while TorchServe is down); alive = a route that does not ask TorchServe."""
    container = pod_spec(named(rendered(overlay), "Deployment", "gateway"))["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/health"
    assert container["livenessProbe"]["httpGet"]["path"] not in ("/api/health", "/api/models")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_requests_cpu_and_memory_and_limits_memory(overlay: str) -> None:
    for where, container in containers(rendered(overlay)):
        resources = container.get("resources", {})
        assert {"cpu", "memory"} <= set(resources.get("requests", {})), f"{where}: requests"
        limit = resources.get("limits", {}).get("memory")
        assert limit is not None, f"{where}: no memory limit"
        assert memory_mb(limit) >= memory_mb(resources["requests"]["memory"]), f"{where}: limit < request"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_torchserve_memory_request_holds_its_budget(overlay: str) -> None:
    """Each TorchServe pod requests at least the measured memory of its loaded-model budget."""
    objects = rendered(overlay)
    needed = TORCHSERVE_JVM_MB + budget(objects) * TORCHSERVE_WORKER_MB
    servers = [
        item
        for item in of_kind(objects, "StatefulSet")
        if pod_labels(item)["app.kubernetes.io/name"] == "torchserve"
    ]
    assert servers
    for server in servers:
        request = pod_spec(server)["containers"][0]["resources"]["requests"]["memory"]
        assert memory_mb(request) >= needed, f"{server['metadata']['name']}: {request} < {needed:.0f} MB"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_containers_run_salescast_commands_with_valid_settings(overlay: str) -> None:
    """Every argument list parses with the real CLI; every SALESCAST_ variable is a settings key."""
    objects = rendered(overlay)
    for where, container in containers(objects):
        _check_command(where, container)
        environ = container_environ(objects, container)
        unknown = {
            name
            for name in environ
            if not name.startswith(ENV_PREFIX) and name not in ENV_ALIASES and name not in OTHER_ENV
        }
        assert not unknown, f"{where}: variables nothing reads: {unknown}"
        load_settings(environ=environ)


def _check_command(where: str, container: Manifest) -> None:
    image = container["image"].rsplit("/", 1)[-1].split(":")[0].split("@")[0]
    if image == SERVE_IMAGE:
        assert "args" not in container and "command" not in container, (
            f"{where}: the serve image takes no args"
        )
        return
    build_parser().parse_args(container["args"])


# ---- availability -----------------------------------------------------------------------------------


def _budgets_for(objects: tuple[Manifest, ...], workload: Manifest) -> list[Manifest]:
    labels = pod_labels(workload)
    return [
        pdb
        for pdb in of_kind(objects, "PodDisruptionBudget")
        if selects(pdb["spec"]["selector"]["matchLabels"], labels)
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_disruption_budget_allows_a_drain(overlay: str) -> None:
    """One PDB per long-running workload, covering only its pods, letting one pod go at a time."""
    objects = rendered(overlay)
    for workload in objects:
        if workload["kind"] not in LONG_RUNNING or workload["metadata"]["name"] == "mlflow":
            continue
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        (pdb,) = _budgets_for(objects, workload)
        covered = [
            item
            for item in objects
            if item["kind"] in LONG_RUNNING
            and selects(pdb["spec"]["selector"]["matchLabels"], pod_labels(item))
        ]
        assert covered == [workload], (
            f"{where}: its PDB also covers {[item['metadata']['name'] for item in covered]}"
        )
        replicas = workload["spec"].get("replicas", 1)
        if "maxUnavailable" in pdb["spec"]:
            assert pdb["spec"]["maxUnavailable"] == 1, where
        else:
            assert pdb["spec"]["minAvailable"] <= replicas - 1, f"{where}: a drain could never evict"


def test_prod_keeps_two_pods_of_every_shard_and_of_the_gateway_and_ui() -> None:
    objects = rendered("prod")
    shards = [
        item
        for item in of_kind(objects, "StatefulSet")
        if pod_labels(item)["app.kubernetes.io/name"] == "torchserve"
    ]
    assert len(shards) >= 2, "prod runs more than one shard"
    for workload in [*shards, named(objects, "Deployment", "gateway"), named(objects, "Deployment", "ui")]:
        assert workload["spec"]["replicas"] >= 2, workload["metadata"]["name"]
    hpa = named(objects, "HorizontalPodAutoscaler", "gateway")
    assert hpa["spec"]["minReplicas"] >= 2


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_hpa_scales_the_gateway_deployment(overlay: str) -> None:
    objects = rendered(overlay)
    (hpa,) = of_kind(objects, "HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment", "gateway")
    gateway = named(objects, "Deployment", "gateway")
    assert "cpu" in pod_spec(gateway)["containers"][0]["resources"]["requests"], (
        "CPU utilization needs a request"
    )
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]


# ---- security ---------------------------------------------------------------------------------------


def _admitted(objects: tuple[Manifest, ...], port: int) -> set[str]:
    """The workloads whose pods a NetworkPolicy admits to TorchServe's `port`."""
    torchserve = [
        item
        for item in of_kind(objects, "StatefulSet")
        if pod_labels(item)["app.kubernetes.io/name"] == "torchserve"
    ]
    admitted: set[str] = set()
    for policy in of_kind(objects, "NetworkPolicy"):
        if not any(
            selects(policy["spec"]["podSelector"]["matchLabels"], pod_labels(item)) for item in torchserve
        ):
            continue
        assert "Ingress" in policy["spec"]["policyTypes"]
        for rule in policy["spec"].get("ingress", []):
            ports = {item["port"] for item in rule.get("ports", [])}
            if ports and port not in ports:
                continue
            peers = rule.get("from")
            assert peers, f"{policy['metadata']['name']}: a rule admits everyone to port {port}"
            for peer in peers:
                assert set(peer) == {"podSelector"}, f"only pods of this namespace: {peer}"
                admitted |= {
                    f"{item['kind']}/{item['metadata']['name']}"
                    for item in objects
                    if item["kind"] in WORKLOADS
                    and selects(peer["podSelector"]["matchLabels"], pod_labels(item))
                }
    return admitted


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_torchserve_management_admits_only_the_gateway_and_the_trainer(overlay: str) -> None:
    objects = rendered(overlay)
    expected = {"Deployment/gateway", "Job/salescast-train"}
    assert _admitted(objects, MANAGEMENT_PORT) == expected
    assert _admitted(objects, 8080) == expected, "the UI and MLflow talk to the gateway, not TorchServe"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_key_comes_from_a_secret(overlay: str) -> None:
    objects = rendered(overlay)
    users = set()
    for where, container in containers(objects):
        for item in container.get("env", []):
            if item["name"] == "SALESCAST_API_KEY":
                assert "value" not in item, f"{where}: the API key as a literal"
                assert item["valueFrom"]["secretKeyRef"]["name"].startswith("salescast-api-key")
                users.add(where.split("/")[1])
    assert users == {"gateway", "ui"}
    for config_map in of_kind(objects, "ConfigMap"):
        assert "SALESCAST_API_KEY" not in config_map.get("data", {})


def test_prod_holds_no_secret_and_the_doc_says_which_to_create() -> None:
    """prod renders no Secret (credentials never live in the tree); every one it uses is in the doc."""
    objects = rendered("prod")
    assert not of_kind(objects, "Secret")
    referenced = set()
    for _, container in containers(objects):
        referenced |= {
            source["secretRef"]["name"] for source in container.get("envFrom", []) if "secretRef" in source
        }
        referenced |= {
            item["valueFrom"]["secretKeyRef"]["name"]
            for item in container.get("env", [])
            if "secretKeyRef" in item.get("valueFrom", {})
        }
    assert referenced == {"salescast-api-key", "salescast-bucket"}
    doc = DOC.read_text(encoding="utf-8")
    for name in referenced:
        assert f"kubectl -n salescast create secret generic {name}" in doc, f"the doc does not create {name}"


# ---- wiring -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_shard_map_names_every_shard_and_its_services(overlay: str) -> None:
    """shards.yaml and the StatefulSets agree; the gateway and every shard read the map."""
    objects = rendered(overlay)
    (config_map,) = [
        item
        for item in of_kind(objects, "ConfigMap")
        if item["metadata"]["name"].startswith("salescast-shards")
    ]
    shard_map = yaml.safe_load(config_map["data"]["shards.yaml"])
    assert shard_map["format_version"] == 1
    assert shard_map["routing"] == "rendezvous-sha256"
    statefulsets = {pod_labels(item)["salescast.io/shard"]: item for item in of_kind(objects, "StatefulSet")}
    assert {shard["name"] for shard in shard_map["shards"]} == set(statefulsets)
    for shard in shard_map["shards"]:
        statefulset = statefulsets[shard["name"]]
        for key, port in (("inference_url", 8080), ("management_url", 8081)):
            url = urlsplit(shard[key])
            service = named(objects, "Service", str(url.hostname))
            assert service["spec"]["selector"] == pod_labels(statefulset), f"{key} of shard {shard['name']}"
            assert url.port == port and port in {item["port"] for item in service["spec"]["ports"]}
        headless = named(objects, "Service", shard["pods_service"])
        assert headless["spec"]["clusterIP"] == "None"
        assert statefulset["spec"]["serviceName"] == shard["pods_service"]
    assert set(shard_map["pins"].values()) <= set(statefulsets)
    gateway = pod_spec(named(objects, "Deployment", "gateway"))
    _reads_the_shard_map(gateway, config_map["metadata"]["name"])
    for name, statefulset in statefulsets.items():
        spec = pod_spec(statefulset)
        _reads_the_shard_map(spec, config_map["metadata"]["name"])
        assert env_value(spec["containers"][0], "SALESCAST_TORCHSERVE__SHARD") == name


def _reads_the_shard_map(spec: dict[str, Any], config_map: str) -> None:
    """The pod mounts the map's ConfigMap where SALESCAST_TORCHSERVE__SHARD_MAP points."""
    volume = next(
        item["name"] for item in spec["volumes"] if item.get("configMap", {}).get("name") == config_map
    )
    container = spec["containers"][0]
    mount = next(item["mountPath"] for item in container["volumeMounts"] if item["name"] == volume)
    assert env_value(container, "SALESCAST_TORCHSERVE__SHARD_MAP") == f"{mount}/shards.yaml"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_model_store_is_one_shared_volume(overlay: str) -> None:
    """An archive a job writes is registered by file name: every pod sees the same model store."""
    objects = rendered(overlay)
    model_store = config_map_data(objects, "salescast-env")["SALESCAST_PATHS__MODEL_STORE"]
    users = set()
    for workload in objects:
        if workload["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(workload)
        shared = {
            volume["name"]
            for volume in spec.get("volumes", [])
            if volume.get("persistentVolumeClaim", {}).get("claimName") == "salescast-shared"
        }
        for container in spec["containers"]:
            mounts = [mount for mount in container.get("volumeMounts", []) if mount["name"] in shared]
            if mounts:
                (mount,) = mounts
                assert model_store.startswith(mount["mountPath"] + "/"), workload["metadata"]["name"]
                users.add(pod_labels(workload)["app.kubernetes.io/name"])
    assert users == {"gateway", "trainer", "torchserve"}


def test_prod_images_come_from_a_registry_with_a_version() -> None:
    for where, container in containers(rendered("prod")):
        image = container["image"]
        assert "/" in image, f"{where}: {image} has no registry"
        assert "@sha256:" in image or (":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")), (
            where
        )
