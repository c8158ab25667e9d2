"""The runner image's recipe stays in step with the repo (no Docker here to build it)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "backup_runner"


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            found[name.split("[")[0].lower().replace("_", "-")] = version
    return found


def test_every_copied_path_exists():
    sources = []
    for line in (RUNNER / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources += line.split()[1:-1]
    assert sources, "the Dockerfile copies the runner in"
    missing = [s for s in sources if not (ROOT / s).exists()]
    assert missing == []


def test_the_image_pins_the_same_versions_as_the_project():
    image, project = pins(RUNNER / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert {"psycopg", "boto3", "pydantic"} <= set(image)
    assert {name: version for name, version in image.items() if project.get(name) != version} == {}
