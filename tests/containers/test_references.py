"""Everything the compose file and the Dockerfiles refer to exists in the project.

Commands are parsed by the real `salescast` parser, every `SALESCAST_A__B` variable must map to a
settings field (and each service's variables must load as valid settings), files COPY'd into an
image must exist and not be excluded by .dockerignore, and the wiring between services (URLs,
ports, volumes, depends_on) must agree.
"""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mlflow.environment_variables
import pytest
import tomllib

from core.settings import ENV_ALIASES, ENV_PREFIX, Settings, load_settings
from salescast.cli.main import build_parser
from tests.containers.build_context import build_context
from tests.containers.conftest import DOCKERFILES, REPO_ROOT, Dockerfile

APP_SERVICES = ("mlflow", "trainer", "gateway", "ui")  # run from Dockerfile.train
LONG_RUNNING = ("seaweedfs", "mlflow", "torchserve", "gateway", "ui")
PUBLISHED = {"mlflow", "gateway", "ui"}
# The `monitoring` profile: started only by `docker compose --profile monitoring up`.
MONITORING = {"prometheus", "alertmanager", "grafana"}
MONITORING_PUBLISHED = {"prometheus", "grafana"}
# Variables read by third-party code or by the serve image's entrypoint, with where they are read.
OTHER_ENV = {
    "PATH": "the shell",
    "PYTHONUNBUFFERED": "python",
    "PYTHONDONTWRITEBYTECODE": "python",
    "PIP_NO_CACHE_DIR": "pip",
    "PIP_DISABLE_PIP_VERSION_CHECK": "pip",
    "GRADIO_ANALYTICS_ENABLED": "gradio",
    "DO_NOT_TRACK": "mlflow telemetry",
    "AWS_SHARED_CREDENTIALS_FILE": "boto3 (the S3 key the seaweedfs service generates)",
    "S3_BUCKET": "docker/seaweedfs/run_seaweedfs.py",
    **dict.fromkeys(
        (
            "GF_AUTH_ANONYMOUS_ENABLED",
            "GF_AUTH_ANONYMOUS_ORG_ROLE",
            "GF_USERS_ALLOW_SIGN_UP",
            "GF_ANALYTICS_REPORTING_ENABLED",
            "GF_ANALYTICS_CHECK_FOR_UPDATES",
            "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH",
        ),
        "grafana (the monitoring profile)",
    ),
}
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def _settings_field(name: str) -> tuple[str, str]:
    """The (section, key) a variable sets, failing the test when it sets nothing."""
    if name in ENV_ALIASES:
        return ENV_ALIASES[name]
    assert name.startswith(ENV_PREFIX) and "__" in name, f"{name} is not a settings variable"
    section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
    assert section in Settings.model_fields, f"{name}: no settings section `{section}`"
    annotation = Settings.model_fields[section].annotation
    assert annotation is not None
    assert key in annotation.model_fields, f"{name}: settings section `{section}` has no key `{key}`"
    return section, key


def _check_variable(name: str) -> None:
    if name in ENV_ALIASES or name.startswith(ENV_PREFIX):
        _settings_field(name)
    elif name.startswith("MLFLOW_"):
        assert hasattr(mlflow.environment_variables, name), f"{name} is not an MLflow variable"
    else:
        assert name in OTHER_ENV, f"{name} is read by nothing known; add it to OTHER_ENV with its reader"


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "use the mapping form of `environment`"
    return {name: _INTERPOLATION.sub(lambda m: m.group(2) or "", str(value)) for name, value in env.items()}


def _reaches_the_build_context(source: str, context: set[str]) -> bool:
    """True when `source` (a file or folder COPY'd) has files in the build context."""
    return source in context or any(path.startswith(f"{source.rstrip('/')}/") for path in context)


# ---- Dockerfiles ------------------------------------------------------------------------------


def test_every_copied_path_exists_and_reaches_the_build_context(dockerfiles: dict[str, Dockerfile]) -> None:
    context = build_context(REPO_ROOT)
    for name, dockerfile in dockerfiles.items():
        assert dockerfile.copies, f"{name} copies nothing"
        for source in dockerfile.copies:
            assert (REPO_ROOT / source).exists(), f"{name}: COPY {source} — no such file in the project"
            assert _reaches_the_build_context(source, context), (
                f"{name}: COPY {source} is excluded by .dockerignore"
            )


def test_dockerfile_variables_exist(dockerfiles: dict[str, Dockerfile]) -> None:
    for dockerfile in dockerfiles.values():
        for name in dockerfile.env:
            _check_variable(name)


def test_train_image_entrypoint_is_the_project_command(dockerfiles: dict[str, Dockerfile]) -> None:
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    train = dockerfiles["Dockerfile.train"]
    assert train.entrypoint == ["salescast"]
    assert "salescast" in scripts
    build_parser().parse_args(train.cmd)  # the default command (train-missing) exists


def test_serve_image_entrypoint_runs_serve_forever(dockerfiles: dict[str, Dockerfile]) -> None:
    serve = dockerfiles["Dockerfile.serve"]
    assert serve.entrypoint[:2] == ["python", "-m"]
    module = importlib.import_module(serve.entrypoint[2])
    assert callable(module.main)
    assert "serve_forever" in Path(module.__file__ or "").read_text()


def test_images_run_as_a_non_root_user() -> None:
    for name in DOCKERFILES:
        users = re.findall(r"^USER\s+(\S+)", (REPO_ROOT / name).read_text(), flags=re.MULTILINE)
        assert users, f"{name} has no USER"
        assert users[-1].split(":")[0] not in ("root", "0"), f"{name} runs as root"


# ---- docker-compose.yml -----------------------------------------------------------------------


def _default_services(compose: dict[str, Any]) -> dict[str, Any]:
    """The services `docker compose up` starts: those in no profile."""
    return {name: service for name, service in compose["services"].items() if not service.get("profiles")}


def test_compose_has_the_six_services_and_the_monitoring_profile(compose: dict[str, Any]) -> None:
    assert set(_default_services(compose)) == {
        "seaweedfs",
        "mlflow",
        "trainer",
        "torchserve",
        "gateway",
        "ui",
    }
    monitoring = {name for name, service in compose["services"].items() if service.get("profiles")}
    assert monitoring == MONITORING
    for name in MONITORING:
        assert compose["services"][name]["profiles"] == ["monitoring"], name


def test_monitoring_services_run_the_copied_configuration(
    compose: dict[str, Any], dockerfiles: dict[str, Dockerfile]
) -> None:
    """Prometheus and Alertmanager come from Dockerfile.prometheus and read the files it copies from
    monitoring/; Grafana is pinned by digest and mounts the provisioning folders; no default service
    waits for a monitoring one."""
    services = compose["services"]
    image = dockerfiles["Dockerfile.prometheus"]
    copied = dict(_copies(REPO_ROOT / "Dockerfile.prometheus"))
    for name, command in (("prometheus", image.cmd), ("alertmanager", services["alertmanager"]["command"])):
        assert services[name]["build"]["dockerfile"] == "Dockerfile.prometheus", name
        (config,) = [word.partition("=")[2] for word in command if word.startswith("--config.file=")]
        assert config in copied.values(), f"{name} reads {config}, which Dockerfile.prometheus does not copy"
    assert "command" not in services["prometheus"]
    assert copied["monitoring/prometheus/rules"] == str(
        Path(copied["monitoring/prometheus/prometheus.yml"]).parent / "rules"
    )
    grafana = services["grafana"]
    assert re.fullmatch(r"grafana/grafana:[\w.]+@sha256:[0-9a-f]{64}", grafana["image"]), grafana["image"]
    assert "build" not in grafana
    for mount in grafana["volumes"]:
        source = mount.split(":")[0]
        assert source in compose["volumes"] or (REPO_ROOT / source).is_dir(), mount
    for name, service in _default_services(compose).items():
        assert not set(service.get("depends_on", {})) & MONITORING, name


def _copies(dockerfile: Path) -> list[tuple[str, str]]:
    """(source, destination) of each single-source COPY."""
    text = dockerfile.read_text(encoding="utf-8")
    return [
        (source, destination)
        for source, destination in re.findall(r"^COPY (\S+) (\S+)$", text, flags=re.MULTILINE)
    ]


def test_service_commands_parse_with_the_project_cli(
    compose: dict[str, Any], dockerfiles: dict[str, Dockerfile]
) -> None:
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["build"]["dockerfile"] == "Dockerfile.train", name
        command = service.get("command", dockerfiles["Dockerfile.train"].cmd)
        assert isinstance(command, list), f"{name}: use the exec (list) form of command"
        build_parser().parse_args(command)
    assert compose["services"]["torchserve"]["build"]["dockerfile"] == "Dockerfile.serve"


def test_every_environment_variable_maps_to_a_setting_and_loads(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        env = _environment(service)
        for variable in env:
            _check_variable(variable)
        if name in APP_SERVICES:
            load_settings(environ=env)  # valid values, not only valid names


def test_only_gateway_ui_and_mlflow_are_published(compose: dict[str, Any]) -> None:
    published = {name for name, service in _default_services(compose).items() if service.get("ports")}
    assert published == PUBLISHED
    monitoring = {name for name in MONITORING if compose["services"][name].get("ports")}
    assert monitoring == MONITORING_PUBLISHED
    torchserve = compose["services"]["torchserve"]
    assert "ports" not in torchserve and "network_mode" not in torchserve


def test_published_ports_match_the_configured_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    expected = {
        "gateway": _environment(services["gateway"])["SALESCAST_GATEWAY__PORT"],
        "ui": _environment(services["ui"])["SALESCAST_UI__PORT"],
        "mlflow": _environment(services["mlflow"])["SALESCAST_MLFLOW__UI_PORT"],
    }
    for name, port in expected.items():
        container_ports = [str(mapping).rsplit(":", 1)[-1] for mapping in services[name]["ports"]]
        assert container_ports == [port], name
        assert f"127.0.0.1:{port}" in " ".join(services[name]["healthcheck"]["test"]), name


def test_service_urls_point_at_services_and_their_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    listening = {
        "torchserve": {
            _environment(services["torchserve"])[f"SALESCAST_TORCHSERVE__{api}_PORT"]
            for api in ("INFERENCE", "MANAGEMENT", "METRICS")
        },
        "gateway": {_environment(services["gateway"])["SALESCAST_GATEWAY__PORT"]},
        "mlflow": {_environment(services["mlflow"])["SALESCAST_MLFLOW__UI_PORT"]},
        "seaweedfs": {str(port) for port in services["seaweedfs"]["expose"]},
    }
    seen = 0
    for name, service in services.items():
        for variable, value in _environment(service).items():
            if not value.startswith("http"):
                continue
            url = urlsplit(value)
            assert url.hostname in listening, f"{name}.{variable}: {value} is not a compose service"
            assert str(url.port) in listening[url.hostname], f"{name}.{variable}: wrong port in {value}"
            seen += 1
    assert seen >= 5


def test_dependencies_follow_the_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["mlflow"]["depends_on"] == {"seaweedfs": {"condition": "service_healthy"}}
    assert services["trainer"]["depends_on"] == {"mlflow": {"condition": "service_healthy"}}
    assert services["torchserve"]["depends_on"] == {
        "trainer": {"condition": "service_completed_successfully"}
    }
    assert services["gateway"]["depends_on"]["torchserve"] == {"condition": "service_healthy"}
    assert services["ui"]["depends_on"] == {"gateway": {"condition": "service_healthy"}}
    assert services["trainer"]["restart"] == "no"
    for name in (*LONG_RUNNING, *sorted(MONITORING)):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name


@pytest.mark.parametrize("volume", ["model_store", "mlflow"])
def test_named_volumes_are_declared(compose: dict[str, Any], volume: str) -> None:
    assert volume in compose["volumes"]


def test_model_store_is_the_same_path_wherever_it_is_mounted(compose: dict[str, Any]) -> None:
    services = compose["services"]
    mounts = {}
    for name in ("trainer", "gateway", "torchserve"):
        targets = [v.split(":")[1] for v in services[name]["volumes"] if v.startswith("model_store:")]
        assert len(targets) == 1, name
        mounts[name] = targets[0]
        env = _environment(services[name])
        configured = env.get("SALESCAST_PATHS__MODEL_STORE", env.get("MODEL_STORE"))
        assert configured == targets[0], (
            f"{name} reads its model store from {configured}, mounted at {targets}"
        )
    assert len(set(mounts.values())) == 1, mounts


def _image_owned_paths(dockerfile: str) -> set[str]:
    """Folders the image creates for uid 10001: `mkdir -p` targets and `COPY --chown` destinations."""
    text = (REPO_ROOT / dockerfile).read_text().replace("\\\n", " ")
    created = {path for command in re.findall(r"mkdir -p ([^&\n]+)", text) for path in command.split()}
    workdir = "/app"
    for destination in re.findall(r"^COPY --chown=\S+ \S+ (\S+)", text, flags=re.MULTILINE):
        created.add(str(Path(workdir, destination)).replace("/./", "/"))
    return created


def test_every_named_volume_mounts_on_a_folder_the_image_owns(compose: dict[str, Any]) -> None:
    """Docker creates a mount point the image lacks as root; the non-root services then cannot write."""
    for name, service in compose["services"].items():
        if "build" not in service:  # a registry's image (grafana) owns its own folders
            continue
        dockerfile = service["build"]["dockerfile"]
        owned = _image_owned_paths(dockerfile)
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source in compose["volumes"]:
                assert target in owned, f"{name}: volume {source} on {target}, not created in {dockerfile}"


def test_published_ports_listen_on_loopback_unless_asked(compose: dict[str, Any]) -> None:
    for name in PUBLISHED | MONITORING_PUBLISHED:
        for mapping in compose["services"][name]["ports"]:
            assert str(mapping).startswith("${SALESCAST_PUBLISH_ADDRESS:-127.0.0.1}:"), (name, mapping)


def test_gateway_and_ui_share_the_api_key(compose: dict[str, Any]) -> None:
    gateway, ui = (_environment(compose["services"][name]) for name in ("gateway", "ui"))
    key_file = gateway["SALESCAST_GATEWAY__API_KEY_FILE"]
    assert ui["SALESCAST_GATEWAY__API_KEY_FILE"] == key_file
    assert gateway["SALESCAST_API_KEY"] == ui["SALESCAST_API_KEY"] == ""  # both from ${SALESCAST_API_KEY}
    folder = str(Path(key_file).parent)
    assert f"secrets:{folder}" in compose["services"]["gateway"]["volumes"]
    assert f"secrets:{folder}:ro" in compose["services"]["ui"]["volumes"]


# ---- README and docs/ -------------------------------------------------------------------------

DOCS = (REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md")))
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^\s*```")


def _prose_and_code(path: Path) -> tuple[list[str], list[str]]:
    """The lines of a Markdown file outside fenced code blocks, and those of its shell blocks."""
    prose: list[str] = []
    shell: list[str] = []
    fence: str | None = None  # the open block's language
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            fence = line.strip().removeprefix("```") if fence is None else None
            continue
        if fence is None:
            prose.append(line)
        elif fence in ("bash", "sh", "shell"):
            shell.append(line)
    return prose, shell


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    headings = [line.lstrip("#").strip() for line in _prose_and_code(path)[0] if line.startswith("#")]
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_every_link_of_the_docs_resolves(doc: Path) -> None:
    """Relative links and images point at files that exist, and `#anchors` at headings that exist."""
    for line in _prose_and_code(doc)[0]:
        for target in _LINK.findall(line):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (doc.parent / file_part).resolve() if file_part else doc
            assert resolved.exists(), f"{doc.name}: link {target} — no such file"
            if anchor and resolved.suffix == ".md":
                assert anchor in _anchors(resolved), f"{doc.name}: link {target} — no such heading"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_salescast_and_make_commands_of_the_docs_exist(doc: Path) -> None:
    """Every `salescast …` line of a code block parses with the real parser; every `make X` is a target."""
    targets = set(re.findall(r"^([\w-]+):", (REPO_ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    for line in _prose_and_code(doc)[1]:
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # an answer's JSON, not a command
            continue
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):  # VAR=value before the command
            words.pop(0)
        if words[:1] == ["salescast"]:
            try:
                build_parser().parse_args(words[1:])
            except SystemExit:
                pytest.fail(f"{doc.name}: `{line.strip()}` does not parse with the salescast CLI")
        elif words[:1] == ["make"]:
            assert set(words[1:]) <= targets, f"{doc.name}: `{line.strip()}` names no Makefile target"
