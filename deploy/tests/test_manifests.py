"""The Kubernetes manifests: they lint, render, validate against the API schemas, and keep the policies."""

import ipaddress
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_support import (
    BY_NAME,
    COMPONENTS,
    DEPLOY,
    K8S,
    KUBERNETES_VERSIONS,
    OPT_IN_COMPONENTS,
    OVERLAYS,
    REPO,
    named,
    of_kind,
    pod_labels,
    pod_spec,
    workloads,
)
from yamllint import linter
from yamllint.config import YamlLintConfig

Obj = dict[str, Any]


def containers(spec: Obj) -> list[Obj]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_value_from(container: Obj, name: str) -> Obj:
    for var in container.get("env", []):
        if var["name"] == name:
            return dict(var["valueFrom"])
    raise AssertionError(f"container {container['name']} has no env {name}")


# ---------------------------------------------------------------- lint, render, schema


def test_every_yaml_file_under_deploy_passes_yamllint() -> None:
    config = YamlLintConfig(file=str(DEPLOY / ".yamllint.yaml"))
    files = sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"} and ".venv" not in p.parts)
    assert len(files) > 20
    problems = [
        f"{path.relative_to(REPO)}:{problem.line}:{problem.column} {problem.message}"
        for path in files
        for problem in linter.run(path.read_text(), config, str(path))
    ]
    assert problems == []


def test_every_overlay_renders_and_holds_each_component(rendered: dict[str, list[Obj]]) -> None:
    for overlay, objects in rendered.items():
        for component in COMPONENTS:
            for kind in ("Deployment", "Service", "ServiceAccount"):
                named(objects, kind, component.name)
        # everything lands in the overlay's own namespace, which the overlay creates
        namespaces = {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"}
        assert namespaces == {o["metadata"]["name"] for o in of_kind(objects, "Namespace")}, overlay
        assert len(namespaces) == 1, overlay


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_against_the_kubernetes_schema(
    rendered: dict[str, list[Obj]], overlay: str, version: str
) -> None:
    errors = []
    for obj in rendered[overlay]:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError as err:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {err.message}")
        except kubernetes_validate.ValidationError as err:
            path = ".".join(str(p) for p in err.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {err.message}")
    assert errors == []


def test_the_secrets_example_validates_and_holds_only_placeholders() -> None:
    secrets = [d for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text()) if d]
    for secret in secrets:
        kubernetes_validate.validate(secret, KUBERNETES_VERSIONS[-1], strict=True)
        assert "data" not in secret
        for key, value in secret["stringData"].items():
            assert "REPLACE_ME" in value, f"{secret['metadata']['name']}.{key} is not a placeholder"


# ---------------------------------------------------------------- security and resources


def test_no_secret_is_rendered_so_none_is_committed_with_values(rendered: dict[str, list[Obj]]) -> None:
    for objects in rendered.values():
        assert of_kind(objects, "Secret") == []
    committed = [p for p in K8S.rglob("*.yaml") if p.name != "secrets.example.yaml"]
    for path in committed:
        kinds = {d.get("kind") for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)}
        assert "Secret" not in kinds, path
        assert "secretGenerator" not in path.read_text(), path


def test_every_secret_reference_names_a_secret_and_key_of_the_example(rendered: dict[str, list[Obj]]) -> None:
    example = {
        d["metadata"]["name"]: set(d["stringData"])
        for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
        if d
    }
    for objects in rendered.values():
        for workload in workloads(objects):
            for container in containers(pod_spec(workload) or {}):
                for var in container.get("env", []):
                    ref = var.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        assert ref["key"] in example.get(ref["name"], set()), (workload["metadata"]["name"], ref)
                assert "envFrom" not in container or all("secretRef" not in e for e in container["envFrom"])
        for ingress in of_kind(objects, "Ingress"):
            for tls in ingress["spec"].get("tls", []):
                assert tls["secretName"] in example


def test_every_container_runs_non_root_read_only_without_capabilities_and_with_limits(
    rendered: dict[str, list[Obj]],
) -> None:
    for overlay, objects in rendered.items():
        for workload in workloads(objects):
            spec = pod_spec(workload) or {}
            where = f"{overlay}: {workload['kind']}/{workload['metadata']['name']}"
            pod_security = spec.get("securityContext", {})
            assert spec.get("automountServiceAccountToken") is False, where
            assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
            for container in containers(spec):
                security = {**pod_security, **container.get("securityContext", {})}
                assert security.get("runAsNonRoot") is True, where
                assert security.get("runAsUser", 0) != 0, where
                assert security.get("readOnlyRootFilesystem") is True, where
                assert security.get("allowPrivilegeEscalation") is False, where
                assert security.get("capabilities", {}).get("drop") == ["ALL"], where
                assert "add" not in security.get("capabilities", {}), where
                resources = container.get("resources", {})
                for bound in ("requests", "limits"):
                    assert set(resources.get(bound, {})) >= {"cpu", "memory"}, f"{where} {bound}"


def test_every_long_running_container_has_readiness_and_liveness_probes(rendered: dict[str, list[Obj]]) -> None:
    for objects in rendered.values():
        for workload in objects:
            if workload["kind"] not in {"Deployment", "StatefulSet"}:
                continue
            for container in (pod_spec(workload) or {})["containers"]:
                assert "readinessProbe" in container, workload["metadata"]["name"]
                assert "livenessProbe" in container, workload["metadata"]["name"]
        for component in COMPONENTS:
            container = named(objects, "Deployment", component.name)["spec"]["template"]["spec"]["containers"][0]
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_kubernetes_waits_longer_than_the_image_takes_to_shut_down(rendered: dict[str, list[Obj]]) -> None:
    for component in COMPONENTS:
        dockerfile = (REPO / component.directory / "Dockerfile").read_text()
        graceful = int(re.search(r'"--timeout-graceful-shutdown", "(\d+)"', dockerfile).group(1))  # type: ignore[union-attr]
        for objects in rendered.values():
            spec = named(objects, "Deployment", component.name)["spec"]["template"]["spec"]
            pre_stop = spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
            assert pre_stop[0] == "sleep"
            # SIGTERM comes after preStop; uvicorn then drains for `graceful` s and runs the lifespan shutdown
            assert int(pre_stop[1]) + graceful + 5 <= spec["terminationGracePeriodSeconds"]


# ---------------------------------------------------------------- services, config, migrations


def test_every_service_runs_its_image_with_its_config_and_secrets(rendered: dict[str, list[Obj]]) -> None:
    for objects in rendered.values():
        config_maps = {c["metadata"]["name"]: c for c in of_kind(objects, "ConfigMap")}
        for component in COMPONENTS:
            deployment = named(objects, "Deployment", component.name)
            spec = deployment["spec"]["template"]["spec"]
            container = spec["containers"][0]
            assert container["image"].split(":")[0].endswith(component.image)
            assert spec["serviceAccountName"] == component.name
            assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
            env: dict[str, str] = {}
            for source in container["envFrom"]:
                env.update(config_maps[source["configMapRef"]["name"]]["data"])
            # every variable is the component's own prefix or a PLEDGE_ one (contracts), no stray ones
            for key in env:
                assert key.startswith((component.prefix + "_", "PLEDGE_", "FORWARDED_ALLOW_IPS")), key
            for upstream in component.upstreams:
                key = f"{component.prefix}_{BY_NAME[upstream].schema.upper()}_URL"
                assert env[key] == f"http://{upstream}", key
                named(objects, "Service", upstream)
            db = env_value_from(container, f"{component.prefix}_DATABASE_URL")
            assert db == {"secretKeyRef": {"name": f"pledge-db-{component.schema}", "key": "url"}}
            token = env_value_from(container, "PLEDGE_SERVICE_TOKEN")
            assert token == {"secretKeyRef": {"name": "pledge-service-token", "key": "token"}}
            service = named(objects, "Service", component.name)
            assert service["spec"]["selector"].items() <= pod_labels(deployment).items()
            assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels(deployment).items()


def test_every_service_has_a_migration_job_running_alembic_as_its_own_role(rendered: dict[str, list[Obj]]) -> None:
    for objects in rendered.values():
        jobs = {j["metadata"]["name"]: j for j in of_kind(objects, "Job")}
        for component in COMPONENTS:
            job = jobs[f"{component.name}-migrate"]
            deployment = named(objects, "Deployment", component.name)
            container = job["spec"]["template"]["spec"]["containers"][0]
            assert container["image"] == deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            alembic_ini = f"{component.directory}/alembic.ini"
            assert container["command"] == ["alembic", "-c", alembic_ini, "upgrade", "head"]
            assert (REPO / alembic_ini).is_file()
            env_py = (REPO / component.directory / "migrations" / "env.py").read_text()
            assert f'schema="{component.schema}"' in env_py
            assert f'url_env="{component.prefix}_DATABASE_URL"' in env_py
            db = env_value_from(container, f"{component.prefix}_DATABASE_URL")
            assert db == {"secretKeyRef": {"name": f"pledge-db-{component.schema}", "key": "url"}}
            assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}
        assert "pledge-db-bootstrap" in jobs


def test_the_example_database_urls_use_one_role_per_service() -> None:
    secrets = {
        d["metadata"]["name"]: d["stringData"]
        for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
        if d
    }
    bootstrap = (K8S / "components" / "db-bootstrap" / "bootstrap.sql").read_text()
    for component in COMPONENTS:
        assert secrets[f"pledge-db-{component.schema}"]["url"].startswith(f"postgresql://{component.role}:")
        assert f"PLEDGE_{component.schema.upper()}_DB_PASSWORD" in bootstrap


# ---------------------------------------------------------------- overlays


def test_dev_runs_one_replica_each_and_its_own_postgres(rendered: dict[str, list[Obj]]) -> None:
    dev = rendered["dev"]
    for component in COMPONENTS:
        assert named(dev, "Deployment", component.name)["spec"]["replicas"] == 1
    postgres = named(dev, "StatefulSet", "postgres")
    assert postgres["spec"]["replicas"] == 1
    assert postgres["spec"]["volumeClaimTemplates"]
    named(dev, "Service", "postgres")
    assert of_kind(dev, "HorizontalPodAutoscaler") == []


def test_prod_keeps_two_replicas_or_more_with_autoscaling_and_disruption_budgets(
    rendered: dict[str, list[Obj]],
) -> None:
    prod = rendered["prod"]
    assert of_kind(prod, "StatefulSet") == []  # Postgres is external or operator-managed
    for component in COMPONENTS:
        deployment = named(prod, "Deployment", component.name)
        # the HPA owns the replica count: a `replicas` in the manifest would reset it on every apply
        assert "replicas" not in deployment["spec"]
        hpa = named(prod, "HorizontalPodAutoscaler", component.name)
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": component.name}
        assert hpa["spec"]["minReplicas"] >= 2
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
        pdb = named(prod, "PodDisruptionBudget", component.name)
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels(deployment).items()
        assert pdb["spec"]["maxUnavailable"] == 1
        strategy = deployment["spec"]["strategy"]["rollingUpdate"]
        assert strategy["maxUnavailable"] == 0


def test_prod_exposes_only_the_gateway_through_an_ingress(rendered: dict[str, list[Obj]]) -> None:
    prod = rendered["prod"]
    (ingress,) = of_kind(prod, "Ingress")
    backends = {
        (p["backend"]["service"]["name"], p["backend"]["service"]["port"]["name"])
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert backends == {("gateway", "http")}
    assert of_kind(rendered["dev"], "Ingress") == []
    for objects in rendered.values():
        for service in of_kind(objects, "Service"):
            assert service["spec"].get("type", "ClusterIP") == "ClusterIP"


def test_overlays_set_image_tags_through_kustomize_images(rendered: dict[str, list[Obj]]) -> None:
    tags = {}
    for overlay, objects in rendered.items():
        for component in COMPONENTS:
            image = named(objects, "Deployment", component.name)["spec"]["template"]["spec"]["containers"][0]["image"]
            tags[overlay, component.name] = image.rsplit(":", 1)[1]
    assert {tags["dev", c.name] for c in COMPONENTS} == {"dev"}
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", tags["prod", c.name]) for c in COMPONENTS)
    for source in (K8S / "base").rglob("*.yaml"):
        assert not re.search(r"image: \S+:\S+", source.read_text()), f"{source}: tag belongs in `images:`"


# ---------------------------------------------------------------- network policies


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    if selector.get("matchExpressions"):
        raise NotImplementedError("matchExpressions")
    return dict(selector.get("matchLabels", {})).items() <= labels.items()


def port_allowed(rule: Obj, port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports)


def peer_is_pod(peer: Obj, labels: dict[str, str]) -> bool:
    """A same-namespace peer: podSelector alone (namespaceSelector means other namespaces here)."""
    return "podSelector" in peer and "namespaceSelector" not in peer and selects(peer["podSelector"], labels)


def allows(policies: list[Obj], src: dict[str, str], dst: dict[str, str], port: int) -> bool:
    """Whether src pod may open a TCP connection to dst pod's port (both in the namespace)."""
    egress_policies = [
        p for p in policies if "Egress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], src)
    ]
    ingress_policies = [
        p for p in policies if "Ingress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], dst)
    ]
    out = not egress_policies or any(
        port_allowed(rule, port) and ("to" not in rule or any(peer_is_pod(peer, dst) for peer in rule["to"]))
        for p in egress_policies
        for rule in p["spec"].get("egress", [])
    )
    into = not ingress_policies or any(
        port_allowed(rule, port) and ("from" not in rule or any(peer_is_pod(peer, src) for peer in rule["from"]))
        for p in ingress_policies
        for rule in p["spec"].get("ingress", [])
    )
    return out and into


def egress_to_outside(policies: list[Obj], src: dict[str, str], address: str, port: int) -> bool:
    ip = ipaddress.ip_address(address)
    for policy in policies:
        if "Egress" not in policy["spec"]["policyTypes"] or not selects(policy["spec"]["podSelector"], src):
            continue
        for rule in policy["spec"].get("egress", []):
            if not port_allowed(rule, port):
                continue
            if "to" not in rule:
                return True
            for peer in rule["to"]:
                block = peer.get("ipBlock")
                if (
                    block
                    and ip in ipaddress.ip_network(block["cidr"])
                    and not any(ip in ipaddress.ip_network(e) for e in block.get("except", []))
                ):
                    return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_exactly_the_documented_flows_between_components(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    policies = of_kind(objects, "NetworkPolicy")
    deny = named(objects, "NetworkPolicy", "default-deny-all")["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny
    assert "egress" not in deny
    pods = {c.name: pod_labels(named(objects, "Deployment", c.name)) for c in COMPONENTS}
    allowed = {(s, d) for s in pods for d in pods if s != d and allows(policies, pods[s], pods[d], 8000)}
    expected = {(c.name, upstream) for c in COMPONENTS for upstream in c.upstreams}
    assert allowed == expected


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_let_every_pledge_pod_reach_postgres_and_dns(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    policies = of_kind(objects, "NetworkPolicy")
    postgres = [pod_labels(s) for s in of_kind(objects, "StatefulSet") if s["metadata"]["name"] == "postgres"]
    for workload in workloads(objects):
        labels = pod_labels(workload)
        if labels.get("app.kubernetes.io/name") == "postgres":
            continue
        name = workload["metadata"]["name"]
        assert egress_to_outside(policies, labels, "10.20.30.40", 5432), name  # external Postgres
        assert any(
            port_allowed(rule, 53) and "to" not in rule
            for p in policies
            if selects(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("egress", [])
        ), name
        for db in postgres:  # dev: the in-cluster Postgres admits every Pledge pod
            assert allows(policies, labels, db, 5432), name
    # nothing else reaches the dev database
    for db in postgres:
        assert not allows(policies, {"app.kubernetes.io/name": "intruder"}, db, 5432)


def test_only_evaluation_reaches_the_internet_for_webhooks(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["prod"]
    policies = of_kind(objects, "NetworkPolicy")
    for component in COMPONENTS:
        labels = pod_labels(named(objects, "Deployment", component.name))
        reaches = egress_to_outside(policies, labels, "93.184.216.34", 443)
        assert reaches == (component.name == "evaluation-svc"), component.name
        assert not egress_to_outside(policies, labels, "10.1.2.3", 443), component.name


def test_the_gateway_alone_is_reachable_from_the_ingress_controller(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["prod"]
    policies = of_kind(objects, "NetworkPolicy")
    for component in COMPONENTS:
        labels = pod_labels(named(objects, "Deployment", component.name))
        from_ingress = any(
            port_allowed(rule, 8000)
            and any(
                peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                == "ingress-nginx"
                for peer in rule.get("from", [])
            )
            for p in policies
            if "Ingress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("ingress", [])
        )
        assert from_ingress == (component.name == "gateway"), component.name


def test_nothing_but_the_gateway_reaches_the_console(rendered: dict[str, list[Obj]]) -> None:
    """The console trusts the X-Forwarded-For the gateway writes (sign-in rationing per address): no other
    pod, no namespace (ingress controller, monitoring) and no address may open a connection to it."""
    for overlay, objects in rendered.items():
        policies = of_kind(objects, "NetworkPolicy")
        console = pod_labels(named(objects, "Deployment", "console"))
        gateway = pod_labels(named(objects, "Deployment", "gateway"))
        rules = [
            rule
            for p in policies
            if "Ingress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], console)
            for rule in p["spec"].get("ingress", [])
        ]
        assert rules, overlay
        for rule in rules:
            assert rule.get("from"), overlay  # a rule without `from` admits every source
            for peer in rule["from"]:
                assert set(peer) == {"podSelector"}, (overlay, peer)
                assert peer_is_pod(peer, gateway), (overlay, peer)


def test_kustomize_sources_are_wired_into_the_tree() -> None:
    """Every YAML file under k8s/ is referenced by a kustomization (nothing silently left out)."""
    referenced: set[Path] = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        doc = yaml.safe_load(kustomization.read_text())
        for entry in doc.get("resources", []) + doc.get("components", []):
            target = (kustomization.parent / entry).resolve()
            referenced.add(target / "kustomization.yaml" if target.is_dir() else target)
    sources = {p.resolve() for p in K8S.rglob("*.yaml") if p.name != "secrets.example.yaml"}
    roots = {(K8S / "overlays" / o / "kustomization.yaml").resolve() for o in OVERLAYS}
    roots |= {(K8S / "components" / c / "kustomization.yaml").resolve() for c in OPT_IN_COMPONENTS}
    assert sources - referenced - roots == set()
