"""The real Pulumi engine (CLI + our language host + the dynamic-provider launcher) together.

These tests run the `pulumi` binary that tools/setup provides, with a temporary file backend and
a passphrase, so they prove what unit tests with mocks cannot: that a program of this project
is run by the engine, that dynamic providers are launched from the venv, and that preview, up,
refresh and destroy behave.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cli import ROOT, PulumiCLI, copy_program, copy_project, tools_available, write_pulumi_yaml

SECRET_NOTE = "note-Never-In-State-42"
PROGRAM = Path(__file__).parent / "program"


@pytest.fixture
def records_stack(tmp_path):
    assert tools_available(), "the Pulumi tools are missing: run ./mvs setup (the test command does)"
    workdir = copy_project(["__main__.py", "records.py"], tmp_path / "program", PROGRAM)
    write_pulumi_yaml(workdir, "records")
    cli = PulumiCLI(workdir, tmp_path)
    cli.ok("stack", "init", "test")
    records_dir = tmp_path / "records"
    cli.ok("config", "set", "records:dir", str(records_dir))
    cli.ok("config", "set", "records:content", "hello")
    cli.ok("config", "set", "--secret", "records:note", input_text=SECRET_NOTE)
    cli.ok("config", "set", "--secret", "records:token", input_text="token-Never-In-State-7")
    return cli, records_dir


def test_version_is_the_pinned_build():
    assert tools_available()
    go_mod = (ROOT / "tools/pulumi/go.mod").read_text()
    pinned = next(line.split()[1] for line in go_mod.splitlines() if "github.com/pulumi/pulumi/pkg/v3 v" in line)
    cli = PulumiCLI(ROOT, ROOT / ".state" / "version-check")
    assert cli.ok("version").strip() == pinned


def test_preview_up_refresh_destroy_with_a_dynamic_provider(records_stack):
    cli, records_dir = records_stack
    record = records_dir / "greeting.json"

    preview = cli.ok("preview", "--json")
    steps = json.loads(preview)["steps"]
    assert [s["op"] for s in steps if s["urn"].endswith("greeting")] == ["create"]
    assert not record.exists(), "preview must not create anything"

    cli.ok("up", "--yes")
    assert json.loads(record.read_text()) == {"content": "hello", "secret_note": SECRET_NOTE}
    cli.ok("preview", "--expect-no-changes")

    state_text = json.dumps(cli.export_state("test"))
    assert SECRET_NOTE not in state_text and "token-Never-In-State-7" not in state_text
    outputs = json.loads(cli.ok("stack", "output", "--json"))
    assert outputs["note"] == "[secret]" and len(outputs["digest"]) == 64

    # Someone edits the record out of band: refresh shows it, up converges back.
    record.write_text(json.dumps({"content": "edited by hand", "secret_note": SECRET_NOTE}, sort_keys=True))
    drift = cli.run("preview", "--refresh", "--expect-no-changes")
    assert drift.returncode != 0, "drift must make --expect-no-changes fail"
    cli.ok("refresh", "--yes")
    refreshed = next(r for r in cli.resources("test") if r["urn"].endswith("greeting"))
    assert refreshed["outputs"]["content"] == "edited by hand"
    cli.ok("up", "--yes")
    assert json.loads(record.read_text())["content"] == "hello"

    # A change to the declaration is an in-place update with complete outputs.
    cli.ok("config", "set", "records:content", "changed")
    cli.ok("up", "--yes")
    updated = next(r for r in cli.resources("test") if r["urn"].endswith("greeting"))
    assert updated["outputs"]["content"] == "changed" and len(updated["outputs"]["digest"]) == 64

    # Deleted out of band: refresh drops it, the next up recreates it.
    record.unlink()
    cli.ok("refresh", "--yes")
    assert not [r for r in cli.resources("test") if r["urn"].endswith("greeting")]
    cli.ok("up", "--yes")
    assert record.exists()

    cli.ok("destroy", "--yes")
    assert not record.exists()
    assert [r["type"] for r in cli.resources("test")] == []


def test_a_provider_without_its_token_fails_clearly(records_stack):
    cli, records_dir = records_stack
    cli.ok("config", "rm", "records:token")
    result = cli.run("up", "--yes")
    assert result.returncode != 0
    assert "records:token is not set" in result.stdout + result.stderr
    assert not (records_dir / "greeting.json").exists()


@pytest.fixture
def project_stack(tmp_path):
    """This project's own program and stack files, in a copy so the repo's stack files stay clean."""
    assert tools_available(), "the Pulumi tools are missing: run ./mvs setup (the test command does)"
    workdir = copy_program(tmp_path / "mvs")
    cli = PulumiCLI(workdir, tmp_path)
    cli.ok("stack", "init", "dev")
    cli.ok("config", "set", "--secret", "--stack", "dev", "mvs:dbPassword", input_text="pw-Never-Shown")
    cli.ok("config", "set", "--secret", "--stack", "dev", "mvs:sessionSecret", input_text="s-Never-Shown")
    return cli


def test_an_invalid_declaration_stops_the_real_engine_before_any_resource(project_stack):
    cli = project_stack
    cli.ok("config", "set", "--path", "--stack", "dev", "mvs:environment.services.backend.port", "70000")
    cli.ok("config", "set", "--path", "--stack", "dev", "mvs:environment.database.image", "postgres:latest")
    result = cli.run("up", "--yes", "--stack", "dev")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Invalid declaration in stacks/Pulumi.dev.yaml (2 problems)" in output
    assert "mvs:environment.services.backend.port: found 70000" in output
    assert "mvs:environment.database.image: found 'postgres:latest'" in output
    assert "Traceback" not in output
    registered = [r["type"] for r in cli.resources("dev") if r["type"] != "pulumi:pulumi:Stack"]
    assert registered == []


def test_a_plaintext_secret_is_refused_by_the_real_engine(project_stack):
    cli = project_stack
    cli.ok("config", "set", "--plaintext", "--stack", "dev", "mvs:sessionSecret", "typed-in-plaintext")
    result = cli.run("preview", "--stack", "dev")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "secret 'sessionSecret', which is stored in plaintext" in output
