"""The Kubernetes manifests: they lint, render, validate against the API schemas, and keep the policies."""

import ipaddress
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from crd_schemas import SCHEMAS, duration_seconds, is_custom
from deploy_support import (
    BY_NAME,
    COMPONENTS,
    DB_ADMIN,
    DEPLOY,
    DOCKERFILE,
    K8S,
    KUBERNETES_VERSIONS,
    OVERLAYS,
    REPO,
    migration_job,
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
@pytest.mark.parametrize("overlay", [*OVERLAYS, "db-admin"])
def test_every_rendered_object_validates_against_the_kubernetes_schema(
    rendered: dict[str, list[Obj]], db_admin: list[Obj], overlay: str, version: str
) -> None:
    errors = []
    for obj in db_admin if overlay == "db-admin" else rendered[overlay]:
        if is_custom(obj):
            continue  # a CRD's kind: the next test
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError as err:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {err.message}")
        except kubernetes_validate.ValidationError as err:
            path = ".".join(str(p) for p in err.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {err.message}")
    assert errors == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_custom_resource_validates_against_the_schema_of_its_crd(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    """HTTPRoute, Cluster, Pooler, ExternalSecret...: the subsets of their CRDs' schemas (crd_schemas.py)."""
    errors = []
    for obj in rendered[overlay]:
        if not is_custom(obj):
            continue
        schema = SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if schema is None:
            errors.append(f"{obj['apiVersion']} {obj['kind']}: no schema in crd_schemas.py")
            continue
        for error in jsonschema.Draft202012Validator(schema).iter_errors(obj):
            path = ".".join(str(p) for p in error.absolute_path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {error.message}")
    assert errors == []


def test_the_crd_schemas_refuse_a_misspelt_field_and_a_bad_duration() -> None:
    route: Obj = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {
            "parentRefs": [{"name": "public"}],
            "rules": [{"backendRefs": [{"name": "gateway", "port": 80}], "timeouts": {"request": "60s"}}],
        },
    }
    validator = jsonschema.Draft202012Validator(SCHEMAS[("gateway.networking.k8s.io/v1", "HTTPRoute")])
    assert list(validator.iter_errors(route)) == []
    route["spec"]["rules"][0]["timeouts"] = {"request": "60 seconds"}
    assert list(validator.iter_errors(route))
    route["spec"]["rules"][0]["timeouts"] = {"requests": "60s"}
    assert list(validator.iter_errors(route))


def test_the_secrets_example_validates_and_holds_only_placeholders() -> None:
    secrets = [d for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text()) if d]
    for secret in secrets:
        kubernetes_validate.validate(secret, KUBERNETES_VERSIONS[-1], strict=True)
        assert "data" not in secret
        for key, value in secret["stringData"].items():
            if key == "username":  # the role's name (CloudNativePG's managed roles read it beside the password)
                assert value == "pledge_" + secret["metadata"]["name"].removeprefix("pledge-db-")
                continue
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


def example_secrets() -> dict[str, set[str]]:
    return {
        d["metadata"]["name"]: set(d["stringData"])
        for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
        if d
    }


def secret_refs(objects: list[Obj]) -> list[tuple[str, Obj]]:
    """(who, {name, key, optional?}) for every Secret key a workload or a custom resource reads."""
    refs = []
    for workload in workloads(objects):
        for container in containers(pod_spec(workload) or {}):
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.append((workload["metadata"]["name"], dict(ref)))
            assert "envFrom" not in container or all("secretRef" not in e for e in container["envFrom"])
    for cluster in of_kind(objects, "Cluster"):
        for role in cluster["spec"].get("managed", {}).get("roles", []):
            for key in ("username", "password"):  # what CloudNativePG reads from a role's passwordSecret
                refs.append((f"Cluster/{role['name']}", {"name": role["passwordSecret"]["name"], "key": key}))
    for store in of_kind(objects, "ObjectStore"):
        for ref in store["spec"]["configuration"]["s3Credentials"].values():
            refs.append((f"ObjectStore/{store['metadata']['name']}", dict(ref)))
    return refs


def test_every_secret_reference_names_a_secret_and_key_of_the_example(
    rendered: dict[str, list[Obj]], db_admin: list[Obj]
) -> None:
    example = example_secrets()
    for objects in [*rendered.values(), db_admin]:
        for who, ref in secret_refs(objects):
            if ref.get("optional"):  # a key present only at times (the previous service token, while it rotates)
                assert ref["name"] in example, (who, ref)
            else:
                assert ref["key"] in example.get(ref["name"], set()), (who, ref)


def test_external_secrets_make_every_secret_prod_reads_with_every_key_it_reads(rendered: dict[str, list[Obj]]) -> None:
    prod = rendered["prod"]
    made = {e["spec"]["target"]["name"]: e for e in of_kind(prod, "ExternalSecret")}
    for who, ref in secret_refs(prod):
        external = made.get(ref["name"])
        assert external is not None, (who, ref)
        assert external["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "pledge"}
        if "dataFrom" in external["spec"]:
            continue  # every key of the remote secret, as it is there (docs: the remote keys to create)
        keys = set(external["spec"]["target"].get("template", {}).get("data", {}))
        keys |= {d["secretKey"] for d in external["spec"].get("data", [])}
        assert ref["key"] in keys or ref.get("optional"), (who, ref)
    assert set(made) <= set(example_secrets())


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
        dockerfile = DOCKERFILE.read_text()
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
            previous = env_value_from(container, "PLEDGE_SERVICE_TOKEN_PREVIOUS")
            assert previous == {"secretKeyRef": {"name": "pledge-service-token", "key": "previous", "optional": True}}
            service = named(objects, "Service", component.name)
            assert service["spec"]["selector"].items() <= pod_labels(deployment).items()
            assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels(deployment).items()


def test_every_service_has_a_migration_job_running_alembic_as_its_own_role(rendered: dict[str, list[Obj]]) -> None:
    for objects in rendered.values():
        for component in COMPONENTS:
            image = named(objects, "Deployment", component.name)["spec"]["template"]["spec"]["containers"][0]["image"]
            # named after the release, so a new release is a new Job: nothing to delete by hand
            job = migration_job(objects, component)
            assert job["spec"]["ttlSecondsAfterFinished"] > 0
            container = job["spec"]["template"]["spec"]["containers"][0]
            assert container["image"] == image
            alembic_ini = f"{component.directory}/alembic.ini"
            assert container["command"] == ["alembic", "-c", alembic_ini, "upgrade", "head"]
            assert (REPO / alembic_ini).is_file()
            env_py = (REPO / component.directory / "migrations" / "env.py").read_text()
            assert f'schema="{component.schema}"' in env_py
            assert f'url_env="{component.prefix}_DATABASE_URL"' in env_py
            db = env_value_from(container, f"{component.prefix}_DATABASE_URL")
            assert db == {"secretKeyRef": {"name": f"pledge-db-{component.schema}", "key": "url"}}
            assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}


def test_a_new_release_gives_every_migration_job_a_new_name(tmp_path: Path) -> None:
    """An overlay of one's own on prod that sets another registry and tag (it takes the same replacements)."""
    import os

    from deploy_support import render

    source = K8S / "overlays" / "prod"
    (tmp_path / "migration-job-names.yaml").write_text((source / "migration-job-names.yaml").read_text())
    images = [{"name": c.image, "newName": f"registry.example.com/{c.image}", "newTag": "2.3.4"} for c in COMPONENTS]
    kustomization = {
        "resources": [os.path.relpath(source, tmp_path)],  # kustomize refuses an absolute path
        "images": images,
        "replacements": [{"path": "migration-job-names.yaml"}],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    jobs = {j["metadata"]["name"] for j in of_kind(render(tmp_path), "Job")}
    assert jobs == {f"{c.name}-migrate-2.3.4" for c in COMPONENTS}


def test_the_migration_job_names_are_the_same_rules_in_every_overlay() -> None:
    texts = {o: (K8S / "overlays" / o / "migration-job-names.yaml").read_text() for o in OVERLAYS}
    assert len(set(texts.values())) == 1
    rules = yaml.safe_load(texts[OVERLAYS[0]])
    assert {r["source"]["name"] for r in rules} == {c.name for c in COMPONENTS}


def test_no_database_admin_credential_in_the_production_namespace(
    rendered: dict[str, list[Obj]], db_admin: list[Obj]
) -> None:
    prod = rendered["prod"]
    assert "pledge-db-admin" not in {ref["name"] for _, ref in secret_refs(prod)}
    assert not [j for j in of_kind(prod, "Job") if j["metadata"]["name"] == "pledge-db-bootstrap"]
    (cluster,) = of_kind(prod, "Cluster")
    assert cluster["spec"]["enableSuperuserAccess"] is False
    # the bootstrap Job for an external Postgres runs in a namespace of its own; dev keeps it beside its database
    job = named(db_admin, "Job", "pledge-db-bootstrap")
    assert job["metadata"]["namespace"] == "pledge-db-admin" != prod[0]["metadata"].get("namespace", "pledge")
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert {o["metadata"]["namespace"] for o in db_admin if o["kind"] != "Namespace"} == {"pledge-db-admin"}
    named(rendered["dev"], "Job", "pledge-db-bootstrap")


def test_the_example_database_urls_use_one_role_per_service(rendered: dict[str, list[Obj]]) -> None:
    secrets = {
        d["metadata"]["name"]: d["stringData"]
        for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
        if d
    }
    bootstrap = (K8S / "components" / "db-bootstrap" / "bootstrap.sql").read_text()
    for component in COMPONENTS:
        assert secrets[f"pledge-db-{component.schema}"]["url"].startswith(f"postgresql://{component.role}:")
        assert f"PLEDGE_{component.schema.upper()}_DB_PASSWORD" in bootstrap
        assert secrets[f"pledge-db-{component.schema}"]["username"] == component.role
    # CloudNativePG: the same roles, login only, each the owner of its schema (created with the cluster)
    (cluster,) = of_kind(rendered["prod"], "Cluster")
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    assert set(roles) == {c.role for c in COMPONENTS}
    for component in COMPONENTS:
        role = roles[component.role]
        assert role["login"] is True
        assert role["ensure"] == "present"
        assert not {"superuser", "createdb", "createrole"} & set(role)
        assert role["passwordSecret"] == {"name": f"pledge-db-{component.schema}"}
    (sql,) = cluster["spec"]["bootstrap"]["initdb"]["postInitApplicationSQL"]
    schemas = re.search(r"ARRAY\[([^\]]*)\]", sql).group(1)  # type: ignore[union-attr]
    assert {s.strip(" '") for s in schemas.split(",")} == {c.schema for c in COMPONENTS}
    assert "AUTHORIZATION %I', s, 'pledge_' || s" in sql


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


def route_for(routes: list[Obj], path: str) -> Obj | None:
    """The HTTPRoute rule a Gateway API implementation picks for `path` (the longest matching prefix; an
    Exact match first), or None: nothing matches and the listener answers 404."""
    best: tuple[int, Obj] | None = None
    for route in routes:
        for rule in route["spec"]["rules"]:
            for match in rule["matches"]:
                kind, value = match["path"]["type"], match["path"]["value"]
                prefix = value.rstrip("/")
                if kind == "Exact" and path == value:
                    rank = 10_000 + len(value)
                elif kind == "PathPrefix" and (path == prefix or path.startswith(prefix + "/") or prefix == ""):
                    rank = len(prefix)
                else:
                    continue
                if best is None or rank > best[0]:
                    best = (rank, rule)
    return best[1] if best else None


def listener_routes(prod: list[Obj], gateway_name: str) -> list[Obj]:
    return [r for r in of_kind(prod, "HTTPRoute") if any(p["name"] == gateway_name for p in r["spec"]["parentRefs"])]


def test_prod_exposes_only_the_gateway_through_gateway_api_routes(rendered: dict[str, list[Obj]]) -> None:
    prod = rendered["prod"]
    assert of_kind(prod, "Ingress") == []
    assert "nginx.ingress.kubernetes.io" not in yaml.safe_dump_all(prod)  # no body cap, no buffering, no timeouts
    for route in of_kind(prod, "HTTPRoute"):
        for rule in route["spec"]["rules"]:
            for backend in rule.get("backendRefs", []):
                assert (backend["name"], backend["port"]) == ("gateway", 80)
        for parent in route["spec"]["parentRefs"]:
            assert parent["kind"] == "Gateway"
            assert parent["namespace"] == "gateway-system"
    assert named(prod, "Service", "gateway")["spec"]["ports"][0]["port"] == 80
    for objects in rendered.values():
        for service in of_kind(objects, "Service"):
            assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert of_kind(rendered["dev"], "HTTPRoute") == []


def test_the_public_listener_routes_the_api_and_console_but_not_admin_docs_or_metrics(
    rendered: dict[str, list[Obj]],
) -> None:
    from pledge_gateway.config import Settings
    from pledge_gateway.routes import ROUTE_TABLE, BodyLimit, Scope

    public = listener_routes(rendered["prod"], "public")

    def forwarded(path: str) -> bool:
        return bool((route_for(public, path) or {}).get("backendRefs"))

    for path in ("/docs", "/docs/static/x.js", "/redoc", "/openapi.json", "/metrics", "/readyz", "/healthz", "/"):
        assert not forwarded(path), path
    assert not forwarded("/internal/v1/events")
    for path in ("/console", "/console/", "/problems/validation"):
        assert forwarded(path), path
    fields = Settings.model_fields  # the gateway's own upstream timeouts answer first, with a 504 problem
    bulk_timeout, report_timeout = fields["bulk_timeout_seconds"].default, fields["report_timeout_seconds"].default
    for entry in ROUTE_TABLE:
        path = re.sub(r"\{[^}]+\}", "x", entry.path)
        admin_only = entry.read_scope == Scope.admin and entry.write_scope == Scope.admin
        assert forwarded(path) != admin_only, path  # key management only on the internal listener
        assert forwarded(path + "/sub") != admin_only or not entry.prefix, path
        rule = route_for(public, path)
        if entry.body_limit == BodyLimit.bulk:
            # streamed uploads for longer than the gateway's own upstream timeout
            assert duration_seconds(rule["timeouts"]["request"]) > bulk_timeout, path  # type: ignore[index]
        elif rule and rule.get("backendRefs"):
            assert duration_seconds(rule["timeouts"]["request"]) > report_timeout, path


def test_the_internal_listener_reaches_what_the_public_one_refuses(rendered: dict[str, list[Obj]]) -> None:
    internal = listener_routes(rendered["prod"], "internal")
    for path in ("/v1/api-keys", "/docs", "/redoc", "/openapi.json", "/metrics", "/v1/tickets"):
        rule = route_for(internal, path)
        assert rule is not None, path
        assert rule["backendRefs"], path
    public_hosts = {h for r in listener_routes(rendered["prod"], "public") for h in r["spec"]["hostnames"]}
    assert not public_hosts & {h for r in internal for h in r["spec"]["hostnames"]}


def test_the_gateway_believes_forwarded_addresses_only_from_its_proxies(rendered: dict[str, list[Obj]]) -> None:
    for overlay, objects in rendered.items():
        gateway = named(objects, "Deployment", "gateway")
        maps = {c["metadata"]["name"]: c["data"] for c in of_kind(objects, "ConfigMap")}
        env: dict[str, str] = {}
        for source in gateway["spec"]["template"]["spec"]["containers"][0]["envFrom"]:
            env.update(maps[source["configMapRef"]["name"]])
        trusted = [t.strip() for t in env["FORWARDED_ALLOW_IPS"].split(",")]
        assert "*" not in trusted, overlay
        networks = [ipaddress.ip_network(t) for t in trusted]
        assert all(n.is_private or n.is_loopback for n in networks), overlay
        assert not any(ipaddress.ip_address("93.184.216.34") in n for n in networks), overlay


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


def test_the_gateway_alone_is_reachable_from_the_gateway_api_proxies(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["prod"]
    policies = of_kind(objects, "NetworkPolicy")
    (edge,) = {p["namespace"] for r in of_kind(objects, "HTTPRoute") for p in r["spec"]["parentRefs"]}
    for component in COMPONENTS:
        labels = pod_labels(named(objects, "Deployment", component.name))
        from_ingress = any(
            port_allowed(rule, 8000)
            and any(
                peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == edge
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
        entries = doc.get("resources", []) + doc.get("components", [])
        entries += [r["path"] for r in doc.get("replacements", []) if "path" in r]
        for entry in entries:
            target = (kustomization.parent / entry).resolve()
            referenced.add(target / "kustomization.yaml" if target.is_dir() else target)
    sources = {p.resolve() for p in K8S.rglob("*.yaml") if p.name != "secrets.example.yaml"}
    roots = {(K8S / "overlays" / o / "kustomization.yaml").resolve() for o in OVERLAYS}
    roots.add((DB_ADMIN / "kustomization.yaml").resolve())
    assert sources - referenced - roots == set()
