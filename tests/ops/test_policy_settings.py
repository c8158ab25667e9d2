"""How ./mvs reads the policy settings: the enforcement file and a stack file's waivers."""

from __future__ import annotations

import json

import pytest

from components.errors import DeclarationError
from mvsctl.policies import (
    NO_POLICIES,
    Waiver,
    enforcement_level,
    read_waivers,
    record_violations,
    violations_from_event_log,
)

RULES = {"images-pinned", "prod-public-replicas"}


def test_the_default_enforcement_is_advisory_on_dev_and_mandatory_elsewhere():
    assert [enforcement_level(s) for s in ("dev", "staging", "prod", "preview-42")] == [
        "advisory",
        "mandatory",
        "mandatory",
        "mandatory",
    ]


def test_an_enforcement_level_that_is_neither_is_refused_with_its_key(tmp_path):
    path = tmp_path / "enforcement.yaml"
    path.write_text("default: mandatory\nstacks:\n  dev: off\n")
    with pytest.raises(DeclarationError) as error:
        enforcement_level("dev", path)
    assert "stacks.dev" in str(error.value) and "advisory or mandatory" in str(error.value)


def stack_with(tmp_path, waivers) -> None:
    (tmp_path / "stacks").mkdir()
    document = {"config": {"mvs:environment": {}, "mvs:policyWaivers": waivers}}
    (tmp_path / "stacks" / "Pulumi.prod.yaml").write_text(json.dumps(document))


def test_waivers_are_read_with_who_and_why(tmp_path):
    stack_with(tmp_path, [{"rule": "images-pinned", "by": "alice", "reason": "until 2.1.0"}])
    assert read_waivers("prod", RULES, tmp_path) == [Waiver("images-pinned", "alice", "until 2.1.0")]
    assert Waiver("images-pinned", "alice", "until 2.1.0").text() == "waived by alice: until 2.1.0"


@pytest.mark.parametrize(
    "waivers, key, found",
    [
        ("images-pinned", "mvs:policyWaivers", "str"),
        ([{"rule": "images-pinned", "by": "alice"}], "mvs:policyWaivers[0]", "['by', 'rule']"),
        ([{"rule": "nope", "by": "a", "reason": "b"}], "mvs:policyWaivers[0].rule", "'nope'"),
        ([{"rule": "images-pinned", "by": " ", "reason": "b"}], "mvs:policyWaivers[0].by", "' '"),
        (
            [{"rule": "images-pinned", "by": "a", "reason": "b"}, {"rule": "images-pinned", "by": "c", "reason": "d"}],
            "mvs:policyWaivers",
            "waived twice",
        ),
    ],
)
def test_a_bad_waiver_names_the_file_and_key(tmp_path, waivers, key, found):
    stack_with(tmp_path, waivers)
    with pytest.raises(DeclarationError) as error:
        read_waivers("prod", RULES, tmp_path)
    message = str(error.value)
    assert "stacks/Pulumi.prod.yaml" in message and f"{key}:" in message and found in message


def test_violations_come_from_the_event_log_and_are_kept_as_json_lines(tmp_path):
    log = tmp_path / "events.ndjson"
    event = {
        "policyName": "prod-public-replicas",
        "policyPackName": "mvs",
        "enforcementLevel": "mandatory",
        "severity": "high",
        "message": "stacks/Pulumi.prod.yaml: ...",
        "resourceUrn": "urn:x",
    }
    lines = [{"sequence": 1, "preludeEvent": {}}, {"sequence": 2, "policyEvent": event}]
    log.write_text("\n".join(json.dumps(x) for x in lines) + '\n{"cut short')
    assert violations_from_event_log(log) == [event]
    out, count = record_violations("prod", log, tmp_path / "state")
    assert count == 1 and json.loads(out.read_text()) == {"stack": "prod", **event}
    assert NO_POLICIES == "--no-policies"
