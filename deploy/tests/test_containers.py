"""The Dockerfile, .dockerignore and deploy/compose.yaml keep the container rules (read statically;
test_images.py replays the Dockerfile for each component and runs what it builds)."""

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from deploy_support import COMPONENTS, DEPLOY, DOCKERFILE, REPO, Component
from image_sim import parse, parse_env


def workspace_members() -> list[str]:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    members: list[str] = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        members += sorted(
            p.parent.relative_to(REPO).as_posix() for p in REPO.glob(f"{pattern}/pyproject.toml") if p.is_file()
        )
    return members


def test_one_dockerfile_builds_every_component_and_nothing_else_holds_a_build_recipe() -> None:
    assert DOCKERFILE.is_file()
    others = [p for p in REPO.rglob("Dockerfile*") if ".venv" not in p.parts and p != DOCKERFILE]
    assert others == []
    for component in COMPONENTS:  # each component's build arguments name real things
        assert (REPO / component.directory / "pyproject.toml").is_file()
        assert (REPO / component.directory / "alembic.ini").is_file()
        module = component.build_args["APP"].split(":")[0].replace(".", "/")
        assert list((REPO / component.directory).glob(f"src/{module}.py")), component.name


def test_dockerfile_is_multi_stage_uv_slim_non_root_with_graceful_shutdown() -> None:
    args, stages = parse(DOCKERFILE)
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    assert {"SERVICE", "PACKAGE", "APP"} <= set(args)
    builder, runtime = stages[-2], stages[-1]
    assert builder.base == runtime.base == "python:3.11-slim"
    assert runtime.name == "runtime"
    for stage in (builder, runtime):  # a global ARG is visible in a stage only once the stage declares it
        declared = {i.args.split("=")[0] for i in stage.instructions if i.keyword == "ARG"}
        used = {name for i in stage.instructions for name in ("SERVICE", "PACKAGE", "APP") if f"${{{name}}}" in i.args}
        assert used <= declared, stage.name

    runs = [i.args for i in builder.instructions if i.keyword == "RUN"]
    syncs = [r for r in runs if "uv sync" in r]
    assert syncs
    for sync in syncs:
        words = shlex.split(sync)
        assert {"--frozen", "--no-dev"} <= set(words)
        assert words[words.index("--package") + 1] == "${PACKAGE}"
    # the dependency layer needs every workspace member's pyproject.toml (uv reads the whole workspace)
    copied = {
        shlex.split(i.args)[0] for i in builder.instructions if i.keyword == "COPY" and "pyproject.toml" in i.args
    }
    assert copied >= {f"{m}/pyproject.toml" for m in workspace_members()}
    env = {}
    for instruction in builder.instructions:
        if instruction.keyword == "ENV":
            env.update(parse_env(instruction.args))
    assert env["UV_PROJECT_ENVIRONMENT"] == "/app/.venv"
    assert env["UV_PYTHON_DOWNLOADS"] == "never"

    keywords = [i.keyword for i in runtime.instructions]
    assert keywords.count("USER") == 1
    user = next(i.args for i in runtime.instructions if i.keyword == "USER")
    assert user == "10001:10001"
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k in {"COPY", "RUN"})
    for instruction in runtime.instructions:
        if instruction.keyword == "RUN":  # only the user is created; no package manager, no build tools
            assert re.fullmatch(r"groupadd .* && useradd .*", instruction.args), instruction.args
        if instruction.keyword == "COPY":
            assert instruction.args.startswith("--from=builder /app/"), instruction.args
    copies = [shlex.split(i.args)[1] for i in runtime.instructions if i.keyword == "COPY"]
    assert set(copies) == {"/app/.venv", "/app/libs", "/app/${SERVICE}"}
    runtime_env: dict[str, str] = {}
    for instruction in runtime.instructions:
        if instruction.keyword == "ENV":
            runtime_env.update(parse_env(instruction.args))
    assert runtime_env["UVICORN_APP"] == "${APP}"  # uvicorn's APP argument, so the CMD is one for all

    cmd = next(i.args for i in runtime.instructions if i.keyword == "CMD")
    assert cmd.startswith("[")  # exec form: uvicorn is PID 1 and gets SIGTERM itself
    assert '"uvicorn", "--factory"' in cmd
    assert '"--timeout-graceful-shutdown", "20"' in cmd


def test_dockerignore_keeps_local_state_and_tests_out_of_the_context() -> None:
    lines = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {"**/.git", "**/.venv", "**/.data", "**/__pycache__", "**/tests", "**/secrets.yaml"} <= lines
    assert {"libs/pledge-dev/**", "!libs/pledge-dev/pyproject.toml"} <= lines


def compose() -> dict[str, dict[str, object]]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"])


def test_compose_runs_postgres_every_migration_and_every_service() -> None:
    services = compose()
    expected = {"postgres"} | {c.name for c in COMPONENTS} | {f"{c.schema}-migrate" for c in COMPONENTS}
    assert set(services) == expected
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):  # type: ignore[union-attr]
            assert dependency in services, (name, dependency)
    bootstrap = next(v for v in services["postgres"]["volumes"] if "initdb" in v)  # type: ignore[union-attr]
    assert (DEPLOY / bootstrap.split(":")[0]).is_file()


@pytest.mark.parametrize("component", COMPONENTS, ids=[c.name for c in COMPONENTS])
def test_compose_builds_the_same_image_and_runs_it_like_kubernetes(component: Component) -> None:
    services = compose()
    migrate, service = services[f"{component.schema}-migrate"], services[component.name]
    for container in (migrate, service):
        assert container["image"] == f"{component.image}:dev"
        build = container["build"]
        assert build == {"context": "..", "dockerfile": "Dockerfile", "args": component.build_args}
        assert (DEPLOY / str(build["context"]) / str(build["dockerfile"])).resolve() == DOCKERFILE  # type: ignore[index]
        assert container["user"] == "10001:10001"
        assert container["read_only"] is True
        assert container["cap_drop"] == ["ALL"]
        env = container["environment"]
        assert env[f"{component.prefix}_DATABASE_URL"].startswith(f"postgresql://{component.role}:")  # type: ignore[index]
        for upstream in component.upstreams:
            key = f"{component.prefix}_{upstream.removesuffix('-svc').upper()}_URL"
            assert env[key] == f"http://{upstream}:8000"  # type: ignore[index]
    assert migrate["command"] == ["alembic", "-c", f"{component.directory}/alembic.ini", "upgrade", "head"]
    assert "command" not in service  # the image's CMD
    assert service["depends_on"][f"{component.schema}-migrate"] == {  # type: ignore[index]
        "condition": "service_completed_successfully"
    }
    assert service.get("ports", []) == (["127.0.0.1:8000:8000"] if component.name == "gateway" else [])


def test_the_dev_secrets_script_creates_every_secret_the_manifests_reference() -> None:
    script = (DEPLOY / "k8s" / "overlays" / "dev" / "make-secrets.sh").read_text()
    example = {
        d["metadata"]["name"]
        for d in yaml.safe_load_all((DEPLOY / "k8s" / "secrets.example.yaml").read_text())
        if d and d.get("type") == "Opaque"
    }
    made = set(re.findall(r"^\s*create (pledge-[a-z-]+)", script, re.M))
    loop = re.search(r'^for s in ([a-z ]+); do\n(?:.*\n)*?\s*create "pledge-db-\$s"', script, re.M)
    made |= set() if loop is None else {f"pledge-db-{schema}" for schema in loop.group(1).split()}
    # every one but the object store of the database backups, which only CloudNativePG (prod) reads
    assert made == example - {"pledge-backup-s3"}
    assert Path(DEPLOY / "k8s" / "overlays" / "dev" / "make-secrets.sh").stat().st_mode & 0o111


def test_make_images_builds_every_component_with_its_build_arguments() -> None:
    makefile = (REPO / "Makefile").read_text()
    block = re.search(r"^IMAGES := ((?:.*\\\n)*.*)$", makefile, re.M)
    assert block is not None
    specs = block.group(1).replace("\\\n", " ").split()
    built = {}
    for spec in specs:
        name, directory, project, package = spec.split(":")
        built[name] = {"SERVICE": directory, "PACKAGE": project, "APP": f"{package}.main:create_app"}
    assert built == {c.name: c.build_args for c in COMPONENTS}
