"""The exporter image's recipe (edge_metrics/Dockerfile, its build context edge_metrics/ alone)
stays in step with the repo, and what it copies works on its own: in a fresh venv holding only
the pinned requirements, with nothing of the repository beside it, it reads the emulator."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.pins import pins

from . import edge_fixtures
from .edge_fixtures import REPO_ROOT, EdgeWorld, value

CONTEXT = REPO_ROOT / "edge_metrics"
edge_world = edge_fixtures.edge_world  # the fixtures, for this module's tests
exporters = edge_fixtures.exporters


def copies() -> list[tuple[list[str], str]]:
    """The Dockerfile's COPY lines as (sources, target)."""
    found = []
    for line in (CONTEXT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *sources, target = line.split()[1:]
            found.append((sources, target))
    return found


def staged_image(app: Path) -> Path:
    """What the Dockerfile puts in /app, copied to `app` with COPY's rules (files and patterns of
    the context, into a directory target)."""
    for sources, target in copies():
        into = app / Path(target).relative_to("/app")
        for source in [path for pattern in sources for path in sorted(CONTEXT.glob(pattern))]:
            file = into / source.name if target.endswith("/") else into
            file.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, file)
    return app


def test_every_copied_path_exists_and_the_package_is_whole():
    sources = [s for group, _ in copies() for s in group]
    assert sources, "the Dockerfile copies the exporter in"
    assert [s for s in sources if not list(CONTEXT.glob(s))] == []
    copied = {p.name for s in sources for p in CONTEXT.glob(s)}
    package = {p.name for p in CONTEXT.iterdir() if p.suffix in (".py", ".graphql")}
    assert package <= copied


def test_the_build_context_sends_only_what_is_copied():
    ignore = (CONTEXT / ".dockerignore").read_text().splitlines()
    patterns = [line for line in ignore if line and not line.startswith("#")]
    assert patterns[0] == "*"
    assert sorted(p.removeprefix("!") for p in patterns[1:]) == sorted(
        {"Dockerfile", *[s for group, _ in copies() for s in group]}
    )


def test_the_image_pins_the_same_versions_as_the_project():
    image, project = pins(CONTEXT / "requirements.txt"), pins(REPO_ROOT / "requirements.txt")
    assert {"httpx", "graphql-core", "prometheus-client"} <= set(image)
    assert {name: version for name, version in image.items() if project.get(name) != version} == {}


def test_the_image_contents_read_the_emulator_on_their_own(tmp_path: Path, edge_world: EdgeWorld, exporters):
    app = staged_image(tmp_path / "app")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*install, "-r", str(app / "edge_metrics" / "requirements.txt")], check=True)
    freeze = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True)
    installed = {line.split("==")[0].lower().replace("_", "-") for line in freeze.stdout.splitlines()}
    assert installed == set(pins(app / "edge_metrics" / "requirements.txt")), "the pins are the whole closure"

    exporter = exporters(edge_world.env(EDGE_REQUESTS_PER_HOUR="3600"), python=str(python), cwd=app)
    edge_world.traffic("frontend", 504, 3, at=time.time() - 1)

    exporter.wait_for(
        "the 504s read by the staged image",
        lambda v: value(v, "railway_edge_window_requests", service="frontend", status="504") == 3,
    )
    assert exporter.stop() == 0
