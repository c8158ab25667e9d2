"""Reading a requirements file's exact pins, for the tests that compare an image's pins with the
project's own (tests/backups/test_image.py, tests/monitoring/test_edge_metrics_image.py)."""

from __future__ import annotations

from pathlib import Path


def pins(path: Path) -> dict[str, str]:
    """Package (normalised name) -> pinned version, for every `name==version` line."""
    found = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            found[name.split("[")[0].lower().replace("_", "-")] = version
    return found
