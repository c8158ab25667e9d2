"""The pack's contract with whoever runs it: its files, the config every rule takes, the
--policy-pack-config file for a stack, and properties read as plain data."""

from __future__ import annotations

import ast
import re

import pytest
import yaml
from pulumi_policy import PolicyConfigSchema, Severity
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policies.contract import CONFIG_SCHEMA, WAIVER_PATTERN, stack_of
from policies.pack_config import RULE_NAMES, pack_config
from policies.rules import POLICIES
from policies.values import UNKNOWN, plain
from tests.policies.harness import ROOT

PACK = ROOT / "policies"


def test_the_pack_runs_in_the_projects_virtualenv_with_its_own_version():
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "../venv"}}
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert (PACK / project["runtime"]["options"]["virtualenv"]).resolve() == ROOT / "venv"
    assert "pulumi-policy==1.21.0" in (ROOT / "requirements.txt").read_text().splitlines()


def test_only_the_entry_point_builds_the_pack():
    """Building a PolicyPack starts a server and blocks: it happens in __main__.py and nowhere else."""
    built = {
        path.relative_to(PACK).as_posix()
        for path in PACK.rglob("*.py")
        if any(
            isinstance(node, ast.Call) and getattr(node.func, "id", None) == "PolicyPack"
            for node in ast.walk(ast.parse(path.read_text()))
        )
    }
    assert built == {"__main__.py"}
    assert (
        'PolicyPack("mvs", POLICIES, enforcement_level=EnforcementLevel.MANDATORY)'
        in (PACK / "__main__.py").read_text()
    )


def test_every_rule_has_a_name_a_description_a_severity_and_the_shared_config():
    assert len(POLICIES) == len(RULE_NAMES) == 15
    for policy in POLICIES:
        assert re.fullmatch(r"[a-z][a-z-]+", policy.name), policy.name
        assert policy.description.endswith("."), policy.name
        assert isinstance(policy.severity, Severity), policy.name
        assert policy.config_schema is CONFIG_SCHEMA, policy.name
    assert isinstance(CONFIG_SCHEMA, PolicyConfigSchema)
    assert set(CONFIG_SCHEMA.properties) == {"stack", "file", "waiver"}
    assert CONFIG_SCHEMA.properties["waiver"]["pattern"] == WAIVER_PATTERN


def test_the_config_file_for_a_stack_sets_the_level_and_gives_every_rule_its_stack_and_file():
    config = pack_config("dev", "stacks/Pulumi.dev.yaml", "advisory")
    assert config == {
        "all": "advisory",
        **{rule: {"stack": "dev", "file": "stacks/Pulumi.dev.yaml"} for rule in RULE_NAMES},
    }


def test_a_waived_rule_is_advisory_and_carries_who_waived_it_and_why():
    waiver = "waived by alice: digests are published from release 2.1.0"
    config = pack_config("prod", "stacks/Pulumi.prod.yaml", "mandatory", {"prod-images-by-digest": waiver})
    assert config["all"] == "mandatory"
    assert config["prod-images-by-digest"] == {
        "stack": "prod",
        "file": "stacks/Pulumi.prod.yaml",
        "enforcementLevel": "advisory",
        "waiver": waiver,
    }
    assert config["images-pinned"] == {"stack": "prod", "file": "stacks/Pulumi.prod.yaml"}


@pytest.mark.parametrize(
    ("waivers", "error"),
    [
        ({"no-such-rule": "waived by alice: why"}, "no rule named no-such-rule; the rules are: images-pinned, "),
        ({"images-pinned": "alice said so"}, "a waiver reads `waived by <who>: <why>`; not so for images-pinned"),
        ({"images-pinned": "waived by alice:"}, "not so for images-pinned"),
    ],
)
def test_a_waiver_for_no_rule_or_without_who_and_why_is_refused(waivers, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        pack_config("prod", "stacks/Pulumi.prod.yaml", "mandatory", waivers)


def test_the_stack_comes_from_the_urn_when_the_config_does_not_say():
    assert stack_of("urn:pulumi:prod::mvs::mvs:railway:Stack$pulumi-python:dynamic/railway:Volume::prod-x") == "prod"
    assert stack_of("not a urn") == ""


def test_properties_are_read_as_plain_data_without_the_provider_and_with_unknowns_marked():
    props = unknown_checking_proxy(
        {
            "__provider": "a pickled provider",
            "image": UNKNOWN_STRING_VALUE,
            "num_replicas": 2.0,
            "timeout": 2.5,
            "multi_region_config": {"eu": {"numReplicas": UNKNOWN_NUMBER_VALUE}},
            "pre_deploy_command": ["node src/migrate.js", UNKNOWN_STRING_VALUE],
        }
    )
    assert plain(props) == {
        "image": UNKNOWN,
        "num_replicas": 2,
        "timeout": 2.5,
        "multi_region_config": {"eu": {"numReplicas": UNKNOWN}},
        "pre_deploy_command": ["node src/migrate.js", UNKNOWN],
    }
