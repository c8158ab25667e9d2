"""The repository carries the Railway schema it validates against (issue 9, point 1): a clone
needs nothing beside it, the copy is the one Railway published, and its notice says so."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from components.railway.schema import DEFAULT_SCHEMA, NOTICE, PROJECT_ROOT, schema_path
from mvsctl.railway_schema import operation_problems, write_carried_schema
from railway_emulator.server import DEFAULT_TOKEN, Emulator, EmulatorServer

REFERENCE = PROJECT_ROOT.parent / "shared" / "railway" / "schema.json"  # beside the repo in CI only


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_carried_schema_is_railways_published_one_and_its_notice_says_so(monkeypatch):
    monkeypatch.delenv("MVS_RAILWAY_SCHEMA", raising=False)
    assert schema_path() == DEFAULT_SCHEMA and DEFAULT_SCHEMA.is_relative_to(PROJECT_ROOT)
    assert REFERENCE.exists(), "the reference copy beside the repository (CI lays it there)"
    assert sha256(DEFAULT_SCHEMA) == sha256(REFERENCE)
    notice = NOTICE.read_text()
    assert f"`{sha256(DEFAULT_SCHEMA)}`" in notice
    assert f"| size | {DEFAULT_SCHEMA.stat().st_size} bytes |" in notice
    assert "railwayapp/cli" in notice and "MIT" in notice


def test_nothing_the_project_runs_reads_beside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, text=True, capture_output=True, check=True)
    runnable = [
        PROJECT_ROOT / name
        for name in tracked.stdout.split()
        if not name.startswith("tests/") and not name.endswith((".md", ".json", ".sum", ".mod"))
    ]
    pattern = re.compile(r"\.\./shared|parent\s*/\s*\"shared\"|/shared/railway")
    offenders = [str(path.relative_to(PROJECT_ROOT)) for path in runnable if pattern.search(path.read_text())]
    assert offenders == []
    assert len(runnable) > 50, "the scan saw the project's files"


def test_write_makes_the_live_schema_the_carried_one_and_rewrites_the_notice(tmp_path, monkeypatch):
    monkeypatch.setenv("RAILWAY_API_TOKEN", DEFAULT_TOKEN)
    server = EmulatorServer(Emulator()).start()
    try:
        written = write_carried_schema(server.url, tmp_path / "schema.json", tmp_path / "NOTICE.md")
    finally:
        server.stop()
    notice = (tmp_path / "NOTICE.md").read_text()
    assert f"introspection of {server.url}" in notice
    assert f"`{sha256(written)}`" in notice and f"| size | {written.stat().st_size} bytes |" in notice
    assert re.search(r"\| version \| fetched \d{4}-\d\d-\d\d \d\d:\d\d UTC \|", notice)
    assert operation_problems(written) == []
