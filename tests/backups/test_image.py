"""The runner image's recipe stays in step with the repo, and its contents work on their own (no
Docker here to build it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.pins import pins

from .conftest import PG_BIN, seed

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "backup_runner"


def test_every_copied_path_exists():
    sources = []
    for line in (RUNNER / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources += line.split()[1:-1]
    assert sources, "the Dockerfile copies the runner in"
    missing = [s for s in sources if not list(ROOT.glob(s))]
    assert missing == []


def test_the_image_pins_the_same_versions_as_the_project():
    image, project = pins(RUNNER / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert {"psycopg", "boto3", "pydantic"} <= set(image)
    assert {name: version for name, version in image.items() if project.get(name) != version} == {}


def staged_image(app: Path) -> Path:
    """What the Dockerfile puts in /app, copied to `app` with COPY's rules: only those paths."""
    for line in (RUNNER / "Dockerfile").read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        *sources, target = line.split()[1:]
        into = app / Path(target).relative_to("/app")
        for source in [path for pattern in sources for path in sorted(ROOT.glob(pattern))]:
            if source.is_dir():  # a directory's contents go into the target
                shutil.copytree(source, into, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:  # a file, or each match of a pattern, goes into the target directory
                file = into / source.name if target.endswith("/") else into
                file.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, file)
    return app


def test_the_image_contents_back_up_and_verify_on_their_own(tmp_path, database):
    """The image's files and pinned packages, in a fresh venv with nothing else: they back up and
    drill a real database. Short of Docker, this is the image minus its base and apt layers."""
    app = staged_image(tmp_path / "app")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*install, "-r", str(app / "backup_runner" / "requirements.txt")], check=True)
    seed(database)
    env = {
        "PATH": f"{PG_BIN}:/usr/bin:/bin",
        "DATABASE_URL": database,
        "BACKUP_DESTINATION": str(tmp_path / "backups"),
        "HOME": str(tmp_path),
    }
    for command in (["run"], ["verify"], ["list"]):
        done = subprocess.run(
            [str(python), "-m", "backup_runner", *command], cwd=app, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, (command, done.stderr)
    assert "passed" in done.stdout and "  verified  " in done.stdout
