"""Replay the Pledge Dockerfile without a Docker engine, to check what the image will hold and run.

The builder stage's COPY and RUN steps run on this machine (same uv, same lock, the local Python 3.11)
in a scratch directory that stands for `/app`; the runtime stage then keeps exactly what it copies from
the builder, at the same path. Build arguments follow Docker's scoping: a global ARG is visible in a stage
only where the stage declares it again (the venv's .pth files and shebangs point there, as in the image). What this
cannot show: the base image itself (Debian slim, its Python build), BuildKit cache mounts, file ownership.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

APP = "/app"


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Image:
    root: Path  # stands for /app
    env: dict[str, str]  # the runtime stage's ENV, paths mapped
    workdir: Path
    cmd: list[str]
    user: str


def parse(dockerfile: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with line continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(base=_expand(words[0], args), name=name))
        elif keyword == "ARG" and not stages:
            key, _, default = rest.partition("=")
            args[key] = default
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, rest.strip()))
    return args, stages


def _expand(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("${" + key + "}", value).replace("$" + key, value)
    return text


def parse_env(args: str) -> dict[str, str]:
    out = {}
    for word in shlex.split(args):
        key, _, value = word.partition("=")
        out[key] = value
    return out


class Replayer:
    def __init__(self, context: Path, scratch: Path, python: str | None = None) -> None:
        self.context = context
        self.scratch = scratch
        self.root = scratch / "app"
        self.python = python or os.path.realpath(sys.executable)
        self.ignore = self._dockerignore()
        self.bin = scratch / "bin"  # `python` for RUN steps: the local interpreter, as /usr/local/bin/python
        self.bin.mkdir(parents=True, exist_ok=True)
        (self.bin / "python").symlink_to(self.python)
        (self.bin / "python3").symlink_to(self.python)
        # the builder stage's uv (copied from uv's image): the one running these tests (`uv run` says which in
        # $UV), which need not be on PATH when the Makefile installed it with pip --user
        uv = os.environ.get("UV") or shutil.which("uv")
        assert uv, "uv not found: run the deploy checks through `uv run` (make check-deploy)"
        (self.bin / "uv").symlink_to(uv)

    def _dockerignore(self) -> pathspec.PathSpec:
        patterns = []
        path = self.context / ".dockerignore"
        for line in path.read_text().splitlines() if path.exists() else []:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            body = line[1:] if negate else line
            # .dockerignore patterns are anchored at the context root; gitignore's are not
            if not body.startswith("**/") and not body.startswith("/"):
                body = "/" + body
            patterns.append(("!" if negate else "") + body)
        return pathspec.PathSpec.from_lines("gitignore", patterns)

    def map_path(self, path: str) -> str:
        if path == APP or path.startswith(APP + "/"):
            return str(self.root) + path[len(APP) :]
        return path

    def map_value(self, value: str) -> str:
        return ":".join(self.map_path(part) for part in value.split(":"))

    def replay(self, dockerfile: Path, build_args: dict[str, str] | None = None) -> Image:
        args, stages = parse(dockerfile)
        self.build_args = dict(build_args or {})
        built: dict[str, Path] = {}
        image: Image | None = None
        for index, stage in enumerate(stages):
            if not stage.instructions:
                continue  # a stage that only names an image (uv's): its files are on this machine already
            is_last = index == len(stages) - 1
            image = self._run_stage(stage, built, args, replay_runs=not is_last)
            if not is_last:
                # park the stage's /app so that the next stage can rebuild /app at the same path
                parked = self.scratch / f"stage-{stage.name}"
                shutil.move(str(self.root), parked)
                built[stage.name] = parked
        assert image is not None
        return image

    def _run_stage(self, stage: Stage, built: dict[str, Path], args: dict[str, str], replay_runs: bool) -> Image:
        """Replay one stage into /app. The runtime stage's RUN steps (creating the user) are not replayed."""
        self.root.mkdir(parents=True, exist_ok=True)
        env: dict[str, str] = {}
        scope: dict[str, str] = {}  # the ARGs this stage declares (what RUN sees and ${} expands)
        workdir = "/"
        cmd: list[str] = []
        user = "0"
        for instruction in stage.instructions:
            keyword, rest = instruction.keyword, _expand(instruction.args, {**scope, **env})
            if keyword == "ARG":
                key, has_default, default = instruction.args.partition("=")
                given = self.build_args.get(key)
                scope[key] = given if given is not None else default if has_default else args.get(key, "")
            elif keyword == "ENV":
                for key, value in parse_env(rest).items():
                    env[key] = _expand(value, {**env, "PATH": os.environ["PATH"]})
            elif keyword == "WORKDIR":
                workdir = rest if rest.startswith("/") else f"{workdir.rstrip('/')}/{rest}"
                Path(self.map_path(workdir)).mkdir(parents=True, exist_ok=True)
            elif keyword == "COPY":
                self._copy(shlex.split(rest), workdir, built)
            elif keyword == "RUN" and replay_runs:
                self._run(rest, {**scope, **env}, workdir)
            elif keyword == "USER":
                user = rest
            elif keyword == "CMD":
                cmd = json.loads(rest)
        mapped_env = {key: self.map_value(value) for key, value in env.items()}
        return Image(root=self.root, env=mapped_env, workdir=Path(self.map_path(workdir)), cmd=cmd, user=user)

    def _copy(self, words: list[str], workdir: str, built: dict[str, Path]) -> None:
        source_stage = None
        while words[0].startswith("--"):
            flag = words.pop(0)
            if flag.startswith("--from="):
                source_stage = flag.split("=", 1)[1]
        *sources, dest = words
        if source_stage is not None and source_stage not in built:
            return  # from an image we do not replay (uv itself: already on this machine)
        dest_path = dest if dest.startswith("/") else f"{workdir.rstrip('/')}/{dest}"
        target = Path(self.map_path(dest_path))
        for source in sources:
            if source_stage is not None:
                origin = built[source_stage] / Path(source).relative_to(APP)
                if origin.is_dir():
                    shutil.copytree(origin, target, symlinks=True, dirs_exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target)
                continue
            origin = self.context / source
            if origin.is_dir():
                for file in sorted(origin.rglob("*")):
                    relative = file.relative_to(self.context).as_posix()
                    if file.is_dir() or self.ignore.match_file(relative):
                        continue
                    out = target / file.relative_to(origin)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, out)
            else:
                assert not self.ignore.match_file(source), f"{source} is excluded by .dockerignore"
                out = target / origin.name if dest.endswith("/") or len(sources) > 1 else target
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, out)

    def _run(self, command: str, env: dict[str, str], workdir: str) -> None:
        words = [w for w in shlex.split(command) if not w.startswith("--mount=")]
        shell = " ".join(shlex.quote(w) if w not in {"&&", "||", ";"} else w for w in words)
        run_env = {key: value for key, value in os.environ.items() if not key.startswith(("UV_", "VIRTUAL_ENV"))}
        run_env.update({key: self.map_value(value) for key, value in env.items()})
        run_env["UV_PYTHON"] = self.python  # the image's /usr/local/bin/python3
        run_env["PATH"] = f"{self.bin}:{run_env.get('PATH', os.environ['PATH'])}"
        result = subprocess.run(
            ["bash", "-c", shell],
            cwd=self.map_path(workdir),
            env=run_env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"RUN {command!r} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
