"""The images' build contexts and Dockerfiles, read without building: each .dockerignore, as the
docker SDK applies it, sends exactly the files its Dockerfile copies (plus the Dockerfile and
.dockerignore, which docker always sends), never node_modules, tests or .env files; and each
Dockerfile keeps the contract both bases rely on (node:18 and a plain Debian with nodejs/npm)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths

from mvsctl.loopback_s3 import free_port

from .nodeproc import BACKEND, FRONTEND, NODE, node_env

IMAGES = {"backend": BACKEND, "frontend": FRONTEND}

# Files a developer's checkout may well hold that must never reach the daemon.
DECOYS = [
    "node_modules/left-pad/index.js",
    "src/node_modules/stray/index.js",
    ".env",
    "src/.env.local",
    "tests/test_app.js",
    "coverage/lcov.info",
    ".git/HEAD",
    "npm-debug.log",
]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def copy_sources(dockerfile: Path) -> list[str]:
    sources = []
    for keyword, args in instructions(dockerfile):
        if keyword in {"COPY", "ADD"}:
            parts = [p for p in args.split() if not p.startswith("--")]
            sources += parts[:-1]
    return sources


def files_under(root: Path, sources: list[str]) -> set[str]:
    files = set()
    for source in sources:
        path = root / source
        assert path.exists(), f"the Dockerfile copies {source}, which {root} does not have"
        if path.is_file():
            files.add(path.relative_to(root).as_posix())
        else:
            files |= {p.relative_to(root).as_posix() for p in path.rglob("*") if p.is_file()}
    return files


def context_files(root: Path) -> set[str]:
    """The files `docker build root` sends, as the docker SDK reads .dockerignore."""
    lines = (root / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return {path for path in exclude_paths(str(root), patterns) if (root / path).is_file()}


@pytest.mark.parametrize("image", IMAGES)
def test_the_context_holds_exactly_what_the_dockerfile_copies(image, tmp_path, backend_modules):
    original = IMAGES[image]
    expected = files_under(original, copy_sources(original / "Dockerfile")) | {"Dockerfile", ".dockerignore"}
    assert not any("node_modules" in path for path in expected)
    copy = tmp_path / image
    shutil.copytree(original, copy, symlinks=True)
    for decoy in DECOYS:
        (copy / decoy).parent.mkdir(parents=True, exist_ok=True)
        (copy / decoy).write_text("must not be sent\n")
    sent = context_files(copy)
    assert sent == expected
    assert not [path for path in sent if "node_modules" in path or path.startswith("tests/")]


def test_the_backend_context_is_what_it_is_in_the_real_checkout(backend_modules):
    """Also on the working tree itself, where `npm ci` has really made node_modules."""
    assert (BACKEND / "node_modules" / "pg").is_dir()
    sent = context_files(BACKEND)
    assert "package-lock.json" in sent and "src/server.js" in sent and "src/migrate.js" in sent
    assert any(path.startswith("migrations/") for path in sent)
    assert not [path for path in sent if "node_modules" in path]


@pytest.mark.parametrize("image", IMAGES)
def test_the_base_image_is_a_pinned_argument(image):
    steps = instructions(IMAGES[image] / "Dockerfile")
    assert steps[0][0] == "ARG"
    name, _, default = steps[0][1].partition("=")
    assert name == "BASE_IMAGE"
    assert re.fullmatch(r"node:18\.\d+\.\d+-bookworm-slim", default), default
    assert steps[1] == ("FROM", "${BASE_IMAGE}")
    assert sum(keyword == "FROM" for keyword, _ in steps) == 1


@pytest.mark.parametrize(("image", "port"), [("backend", "3000"), ("frontend", "8080")])
def test_the_image_runs_node_as_uid_1000_on_its_port(image, port):
    """USER is numeric (a plain Debian base has no `node` user) and comes after every RUN, so the
    files are installed by root and the app cannot rewrite them."""
    steps = instructions(IMAGES[image] / "Dockerfile")
    keywords = [keyword for keyword, _ in steps]
    user = keywords.index("USER")
    assert steps[user][1] == "1000:1000"
    assert "RUN" not in keywords[user:]
    assert ("EXPOSE", port) in steps
    cmd = [args for keyword, args in steps if keyword == "CMD"]
    assert [json.loads(c) for c in cmd] == [["node", "src/server.js"]]
    assert (IMAGES[image] / "src" / "server.js").is_file()
    assert healthcheck_command(image)[:2] == ["node", "-e"]


def healthcheck_command(image: str) -> list[str]:
    """The Dockerfile's HEALTHCHECK command (exec form: a JSON array)."""
    checks = [args for keyword, args in instructions(IMAGES[image] / "Dockerfile") if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    return json.loads(checks[0].split(" CMD ", 1)[1])


def run_probe(image: str, port: int) -> int:
    """The image's health check run as Docker runs it: its own command, the container's PORT."""
    command = healthcheck_command(image)
    command[0] = NODE
    return subprocess.run(command, env=node_env(PORT=str(port)), capture_output=True, timeout=30).returncode


def test_the_image_health_checks_pass_on_healthy_servers_only(backend, start_backend, start_frontend):
    """Neither base has wget or curl: the probe is node itself, and it follows /health's status."""
    assert run_probe("backend", backend.port) == 0
    assert run_probe("backend", start_backend(None).port) != 0  # up, but /health is 503
    assert run_probe("frontend", start_frontend(backend.url).port) == 0
    assert run_probe("frontend", free_port()) != 0  # nothing listens


@pytest.mark.parametrize("image", IMAGES)
def test_the_image_installs_production_dependencies_from_the_lock_file(image):
    steps = instructions(IMAGES[image] / "Dockerfile")
    runs = " ".join(args for keyword, args in steps if keyword == "RUN")
    assert "npm ci --omit=dev --ignore-scripts" in runs
    assert "npm cache clean --force" in runs
    keywords = [keyword for keyword, _ in steps]
    lock_copy = steps.index(("COPY", "package.json package-lock.json ./"))
    install = next(i for i, (k, a) in enumerate(steps) if k == "RUN" and "npm ci" in a)
    source_copy = next(i for i, (k, a) in enumerate(steps) if k == "COPY" and a.startswith("src/"))
    assert lock_copy < install < source_copy, keywords
    assert ("ENV", "NODE_ENV=production") in steps


def test_the_backend_pins_exactly_its_two_dependencies():
    package = json.loads((BACKEND / "package.json").read_text())
    lock = json.loads((BACKEND / "package-lock.json").read_text())
    assert package["name"] == "mvs-backend" and package["version"] == "2.0.0"
    assert set(package["dependencies"]) == {"pg", "prom-client"}
    assert not package.get("devDependencies")
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    assert package["engines"]["node"].startswith(">=18")


def test_the_frontend_pins_prom_client_exactly_as_the_backend_does():
    """The frontend's one dependency serves the same metrics as the backend's (src/metrics.js)."""
    package = json.loads((FRONTEND / "package.json").read_text())
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    backend = json.loads((BACKEND / "package.json").read_text())
    assert package["name"] == "mvs-frontend" and package["version"] == "2.0.0"
    assert package["dependencies"] == {"prom-client": backend["dependencies"]["prom-client"]}
    assert not package.get("devDependencies")
    assert lock["packages"]["node_modules/prom-client"]["version"] == package["dependencies"]["prom-client"]
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    requires = set(re.findall(r"require\('([^']+)'\)", (FRONTEND / "src" / "server.js").read_text()))
    requires |= set(re.findall(r"require\('([^']+)'\)", (FRONTEND / "src" / "metrics.js").read_text()))
    assert {module for module in requires if not module.startswith(("node:", "./"))} == {"prom-client"}
