"""One bad file never blocks every stack (issue 22, point 10): a stack file that cannot be read or
decoded is one line naming that file; the other stacks' validation goes on, and their checks
across stack files say which sibling they left out. Every problem of a file comes in one pass,
plaintext secrets included, even while other shape problems exist."""

from __future__ import annotations

import pathlib
import shutil

import pytest
import yaml

import mvsctl.__main__ as cli
from components.errors import DeclarationError
from components.stack_config import load_stack_file

from .conftest import REPO_ROOT

BROKEN = "stacks/Pulumi.broken.yaml"


def break_file(path: pathlib.Path, how: str, monkeypatch) -> str:
    """Damage the file as told; returns what the one line must say was found."""
    if how == "not UTF-8":
        body = b"config:\n  mvs:environment:\n    target: local\n    name: caf\xe9\n"
        path.write_bytes(body)
        return f"found bytes that are not UTF-8 (at byte {body.index(0xE9)})"
    if how == "a directory":
        path.mkdir()
        return "found a directory"
    if how == "not readable":
        path.write_text("config: {}\n")
        real = pathlib.Path.read_bytes

        def refuse(self):
            if self.name == path.name:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self)

        monkeypatch.setattr(pathlib.Path, "read_bytes", refuse)  # as root, chmod 000 would not stop a read
        return "found a file this user may not read (permission denied)"
    path.write_text("config:\n  mvs:environment: [unclosed\n")
    return "found invalid YAML ("


@pytest.fixture
def project(tmp_path, monkeypatch) -> pathlib.Path:
    """A copy of the repository's stack files, which the CLI reads as its project."""
    (tmp_path / "stacks").mkdir()
    for name in ("dev", "staging", "prod"):
        shutil.copy(REPO_ROOT / f"stacks/Pulumi.{name}.yaml", tmp_path / f"stacks/Pulumi.{name}.yaml")
    monkeypatch.setattr(cli, "PROJECT_ROOT", tmp_path)
    return tmp_path


@pytest.mark.parametrize("how", ["not UTF-8", "a directory", "not readable", "invalid YAML"])
def test_a_broken_stack_file_is_one_line_and_the_others_are_still_validated(project, how, monkeypatch, capsys):
    found = break_file(project / BROKEN, how, monkeypatch)

    status = cli.main(["validate"])

    out, err = capsys.readouterr()
    assert status == 2
    assert "stacks/Pulumi.dev.yaml: valid (local, release 2.0.0)" in out, "dev is validated as before"
    mine = [line for line in err.splitlines() if line.startswith(BROKEN)]
    assert len(mine) == 1 and mine[0].startswith(f"{BROKEN} cannot be read: {found}"), err
    assert "Traceback" not in err
    notes = [line for line in err.splitlines() if line.startswith("note: the checks across stack files left out")]
    assert notes and all(BROKEN in note for note in notes), "the siblings say whom they could not read"
    problems = [line for line in err.splitlines() if line.startswith("  - ")]
    assert not any("broken" in line for line in problems), "no stack is blamed for broken's file"
    for other in ("staging", "prod"):
        assert f"stacks/Pulumi.{other}.yaml: valid (railway, release 2.0.0)" in out, f"{other} is validated as before"


def test_every_problem_of_a_file_comes_in_one_pass_plaintext_secrets_included(project):
    path = project / "stacks/Pulumi.staging.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["mvs:dbPassword"] = "hunter2-in-plaintext"
    document["config"]["mvs:environment"]["services"]["backend"]["port"] = 70000  # a shape problem too
    path.write_text(yaml.safe_dump(document))

    with pytest.raises(DeclarationError) as caught:
        cli.validate_stack("staging")

    keys = {problem.key for problem in caught.value.problems}
    assert "mvs:environment.services.backend.port" in keys
    assert "mvs:environment.database.password_secret" in keys
    assert "which is stored in plaintext" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_plaintext_secret_in_the_dev_stack_is_a_problem_even_though_missing_ones_are_generated(project):
    path = project / "stacks/Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["mvs:dbPassword"] = "plain-dev-password"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(DeclarationError, match="which is stored in plaintext"):
        cli.validate_stack("dev")
    assert load_stack_file(REPO_ROOT / "stacks/Pulumi.dev.yaml", check_secrets=True, missing_secrets_are_fine=True)
