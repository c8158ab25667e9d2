"""Clashes between stack files that live side by side: what one Railway project (or Railway itself)
holds once must be declared once, or `up` fails halfway (a domain) or two stacks silently share one
environment. Each stack's validation reports the clash in its own file, naming the sibling."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from components.errors import DeclarationError, Problem
from components.spec import CONFIG_KEY, Sibling, parse_environment
from components.stack_config import load_stack_file

from .conftest import DEFAULT_STACKS, REPO_ROOT, Stack

ENV = CONFIG_KEY
PROJECT_ID = "0b5e2b6c-3f1a-4c2e-9d1e-2a7c5b8e9f10"
OTHER_PROJECT_ID = "7d3c1a2b-4e5f-4a6b-8c9d-0e1f2a3b4c5d"


def siblings_of(name: str, load_stack: Callable[[str], Stack], **changed: Stack) -> list[Sibling]:
    """The other default stacks, as files beside `name`'s; `changed` replaces some of them."""
    stacks = {other: changed.get(other) or load_stack(other) for other in DEFAULT_STACKS if other != name}
    return [Sibling(other, stack.file, stack.raw) for other, stack in stacks.items()]


def refused(stack: Stack, siblings: list[Sibling]) -> DeclarationError:
    with pytest.raises(DeclarationError) as caught:
        parse_environment(stack.raw, stack.file, None, siblings)
    assert all(p.file == stack.file for p in caught.value.problems)
    return caught.value


def only_problem_at(error: DeclarationError, key: str) -> Problem:
    [problem] = [p for p in error.problems if p.key == key]
    assert f"{key}: found" in str(error)
    return problem


def test_a_domain_another_railway_stack_declares_is_refused(load_stack: Callable[[str], Stack]) -> None:
    staging = load_stack("staging")
    staging.raw["services"]["frontend"]["custom_domains"] = ["staging.mvs.example", "mvs.example"]

    error = refused(staging, siblings_of("staging", load_stack))

    problem = only_problem_at(error, f"{ENV}.services.frontend.custom_domains[1]")
    assert (
        problem.found
        == "'mvs.example', which stacks/Pulumi.prod.yaml also declares at services.frontend.custom_domains[0]"
    )
    assert "a domain no other Railway stack declares" in problem.allowed
    assert len(error.problems) == 1, "staging.mvs.example is staging's own"


def test_the_clash_is_reported_from_either_side(load_stack: Callable[[str], Stack]) -> None:
    staging = load_stack("staging")
    staging.raw["services"]["backend"]["custom_domains"] = ["api.mvs.example"]

    error = refused(load_stack("prod"), siblings_of("prod", load_stack, staging=staging))

    problem = only_problem_at(error, f"{ENV}.services.backend.custom_domains[0]")
    assert "stacks/Pulumi.staging.yaml also declares at services.backend.custom_domains[0]" in problem.found


def test_a_domain_is_railways_to_give_once_even_across_projects(load_stack: Callable[[str], Stack]) -> None:
    staging = load_stack("staging")
    staging.raw["railway"] = {"project_name": "mvs-staging"}
    staging.raw["services"]["frontend"]["custom_domains"] = ["mvs.example"]

    error = refused(staging, siblings_of("staging", load_stack))

    only_problem_at(error, f"{ENV}.services.frontend.custom_domains[0]")


def test_two_stacks_in_one_project_may_not_share_an_environment(load_stack: Callable[[str], Stack]) -> None:
    staging = load_stack("staging")
    staging.raw["railway"] = {"environment": "prod"}

    error = refused(staging, siblings_of("staging", load_stack))

    problem = only_problem_at(error, f"{ENV}.railway.environment")
    assert problem.found == "'prod', which stacks/Pulumi.prod.yaml also uses in project 'mvs'"
    assert "an environment of its own" in problem.allowed


def test_the_default_environment_name_counts_too(load_stack: Callable[[str], Stack]) -> None:
    """prod adopts staging's project by id and names its environment after the stack staging is."""
    prod = load_stack("prod")
    prod.raw["railway"] = {"project_id": PROJECT_ID, "environment": "staging"}

    error = refused(load_stack("staging"), siblings_of("staging", load_stack, prod=prod))

    problem = only_problem_at(error, f"{ENV}.railway.environment")
    assert problem.found.startswith("'staging' (the stack's name, by default), which stacks/Pulumi.prod.yaml")


def test_stacks_adopting_one_project_id_agree_on_its_name(load_stack: Callable[[str], Stack]) -> None:
    staging, prod = load_stack("staging"), load_stack("prod")
    staging.raw["railway"] = {"project_id": PROJECT_ID}
    prod.raw["railway"] = {"project_id": PROJECT_ID, "project_name": "mvs-prod"}

    error = refused(staging, siblings_of("staging", load_stack, prod=prod))

    problem = only_problem_at(error, f"{ENV}.railway.project_name")
    assert problem.found == f"'mvs', while stacks/Pulumi.prod.yaml names project {PROJECT_ID} 'mvs-prod'"


@pytest.mark.parametrize(
    ("staging_railway", "prod_railway"),
    [
        pytest.param({"environment": "prod"}, {"project_name": "mvs-prod"}, id="different-project-names"),
        pytest.param(
            {"environment": "prod", "project_id": PROJECT_ID},
            {"project_id": OTHER_PROJECT_ID},
            id="different-project-ids",
        ),
    ],
)
def test_stacks_in_different_projects_may_reuse_an_environment_name(
    load_stack: Callable[[str], Stack], staging_railway: dict, prod_railway: dict
) -> None:
    staging, prod = load_stack("staging"), load_stack("prod")
    staging.raw["railway"] = staging_railway
    prod.raw["railway"] = prod_railway

    spec = parse_environment(staging.raw, staging.file, None, siblings_of("staging", load_stack, prod=prod))

    assert spec.railway.environment == "prod"


def test_a_local_sibling_shares_nothing_with_railway(load_stack: Callable[[str], Stack]) -> None:
    dev = load_stack("dev")
    dev.raw["railway"] = {"environment": "staging"}  # ignored by the local target

    parse_environment(
        load_stack("staging").raw, "stacks/Pulumi.staging.yaml", None, siblings_of("staging", load_stack, dev=dev)
    )


def test_validating_a_stack_file_reads_the_files_beside_it(tmp_path: Path) -> None:
    """The path `./mvs validate` and the program take: the siblings are the directory's other stack files."""
    stacks = tmp_path / "stacks"
    shutil.copytree(REPO_ROOT / "stacks", stacks)
    staging_path = stacks / "Pulumi.staging.yaml"
    document = yaml.safe_load(staging_path.read_text())
    document["config"][CONFIG_KEY]["services"]["backend"]["custom_domains"] = ["api.mvs.example"]
    staging_path.write_text(yaml.safe_dump(document))
    (stacks / "Pulumi.broken.yaml").write_text("config: [not, a, mapping")

    with pytest.raises(DeclarationError) as caught:
        load_stack_file(staging_path, "stacks/Pulumi.staging.yaml", check_secrets=False)

    [problem] = caught.value.problems
    assert problem.key == f"{ENV}.services.backend.custom_domains[0]"
    assert "stacks/Pulumi.prod.yaml also declares" in problem.found
    with pytest.raises(DeclarationError) as prod_side:
        load_stack_file(stacks / "Pulumi.prod.yaml", "stacks/Pulumi.prod.yaml", check_secrets=False)
    assert "stacks/Pulumi.staging.yaml also declares" in prod_side.value.problems[0].found
