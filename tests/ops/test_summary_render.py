"""`./mvs summary` from synthetic `pulumi preview --json` documents (the shape of the CLI 3.274
document: steps with old and new inputs, diagnostics, changeSummary): the counts line, the banner
naming what holds data, the release line, secrets and variables, collapsed details, trimming that
keeps the counts and banners, and the JSON form. (The real engine: tests/engine/test_summary.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from components.errors import ToolError
from mvsctl import summary
from mvsctl.summary import MARKER, PolicyResult, render, summary_of

STACK = "staging"
CIPHERTEXT = "v1:c2VjcmV0LWNpcGhlcnRleHQ="
PLAIN_VALUE = "plain-Value-Of-A-Variable"


def step(op: str, kind: str, name: str, old: dict | None = None, new: dict | None = None, stack: str = STACK) -> dict:
    if kind.startswith("docker:"):
        urn = f"urn:pulumi:{stack}::mvs::mvs:local:Stack$pulumi-python:dynamic/{kind}::{name}"
    else:
        urn = f"urn:pulumi:{stack}::mvs::mvs:railway:Stack$pulumi-python:dynamic/{kind}::{name}"
    found: dict = {"op": op, "urn": urn}
    if old is not None:
        found["oldState"] = {"urn": urn, "inputs": {"__provider": "[secret]", **old}}
    if new is not None:
        found["newState"] = {"urn": urn, "inputs": {"__provider": "[secret]", **new}}
    return found


def document(*steps: dict, same: int = 10, diagnostics: list[str] = ()) -> dict:
    counts: dict[str, int] = {"same": same}
    for s in steps:
        counts[s["op"]] = counts.get(s["op"], 0) + 1
    root = {"op": "same", "urn": f"urn:pulumi:{STACK}::mvs::pulumi:pulumi:Stack::mvs-{STACK}"}
    return {
        "config": {"mvs:sessionSecret": "[secret]"},
        "steps": [root, *steps],
        "diagnostics": [{"message": m, "severity": "info#err"} for m in diagnostics],
        "changeSummary": counts,
    }


def settings(image: str, service_id: str = "s-1") -> dict:
    return {"service_id": service_id, "environment_id": "e-1", "image": image, "num_replicas": 1}


def volume(service_id: str = "s-db") -> dict:
    return {"project_id": "p-1", "environment_id": "e-1", "service_id": service_id, "size_mb": 10000}


def release_inputs(version: str, **images: str) -> dict:
    """The release resource as it landed: `services` (service -> image, digest, what runs it) and
    what a rollback writes back, secrets as the stack file's ciphertext."""
    return {
        "version": version,
        "services": {s: {"image": ref, "digest": None, "deployment_id": "d-1"} for s, ref in images.items()},
        "declared": {"release": {"version": version, "images": images}, "secrets": {"mvs:x": {"secure": CIPHERTEXT}}},
    }


def one(doc: dict, declared: dict | None = None, policies: PolicyResult | None = None, stack: str = STACK) -> str:
    result = summary_of(stack, doc, declared)
    result.policies = policies
    return render([result])


def test_the_report_starts_with_its_marker_and_one_line_of_counts():
    doc = document(
        step("create", "railway:ServiceDomain", "staging-frontend-domain", new={"port": 8080}),
        step("update", "railway:ServiceInstance", "staging-backend-settings", settings("a:1"), settings("a:2")),
        step("update", "railway:Deployment", "staging-backend-deployment", {"fingerprint": "1"}, {"fingerprint": "2"}),
        step("replace", "railway:ServiceDomain", "staging-backend-domain", {"port": 1}, {"port": 2}),
        step("delete", "railway:CustomDomain", "staging-frontend-old.example.com", old={"domain": "old.example.com"}),
    )
    report = one(doc)
    assert report.startswith(MARKER + "\n")
    assert "**staging**: 1 to create, 2 to update, 1 to replace, 1 to delete (10 unchanged)." in report


def test_no_changes_says_so():
    report = one(document(same=29))
    assert "**staging**: no changes (29 resources unchanged)." in report
    assert "[!CAUTION]" not in report and "[!WARNING]" not in report and "<details>" not in report


def test_the_banner_names_what_holds_data_apart_from_the_rest():
    doc = document(
        step("replace", "railway:Project", "staging-project", {"adopt_id": None}, {"adopt_id": "p-1"}),
        step(
            "replace",
            "railway:Volume",
            "staging-database-volume",
            volume(),
            volume("04da6b54-80e4-46f7-96ec-b56ff0331ba9"),
        ),
        step("delete", "railway:BackupSchedules", "staging-database-backup-schedules", old={"kinds": ["DAILY"]}),
        step("replace", "railway:Service", "staging-database", {"name": "Postgres"}, {"name": "Postgres"}),
        step("replace", "railway:ServiceInstance", "staging-backup-settings", settings("r:1"), settings("r:2")),
        step("update", "railway:ServiceInstance", "staging-database-settings", settings("pg:1"), settings("pg:2")),
    )
    report = one(doc)
    head = report.split("### staging", 1)[0]
    assert "> [!CAUTION]" in head
    assert "5 resource(s); 4 of them hold data (database, volumes, backups)" in head
    data_lines = [line for line in head.splitlines() if line.startswith("> - ")]
    assert data_lines == [
        "> - replace railway:Volume `staging-database-volume`: the database volume",
        "> - delete railway:BackupSchedules `staging-database-backup-schedules`: "
        "the database volume's backup schedules",
        "> - replace railway:Service `staging-database`: the Postgres service",
        "> - replace railway:ServiceInstance `staging-backup-settings`: the backup job, settings",
        "> - and 1 other resource(s) (listed below)",
    ], "an update (the Postgres settings) is no loss of data: only deletes and replaces are in the banner"


def test_on_dev_docker_volumes_and_the_postgres_container_hold_data():
    doc = document(
        step("replace", "docker:Volume", "dev-pgdata", {"name": "a"}, {"name": "b"}, stack="dev"),
        step("replace", "docker:Container", "dev-database", {"image": "1"}, {"image": "2"}, stack="dev"),
        step("replace", "docker:Container", "dev-frontend", {"image": "1"}, {"image": "2"}, stack="dev"),
    )
    report = one(doc, stack="dev")
    assert "> - replace docker:Volume `dev-pgdata`: a Docker volume (database or backup data)" in report
    assert "> - replace docker:Container `dev-database`: the Postgres container" in report
    assert "> - and 1 other resource(s) (listed below)" in report


def test_deleting_only_what_holds_no_data_is_a_warning():
    doc = document(step("delete", "railway:CustomDomain", "staging-frontend-a.example.com", old={"domain": "a"}))
    report = one(doc)
    assert "> [!WARNING]" in report and "[!CAUTION]" not in report
    assert "(none holds data): railway:CustomDomain `staging-frontend-a.example.com`" in report


def test_the_release_line_from_the_release_record_old_to_new():
    doc = document(
        step(
            "update",
            "release:Release",
            "staging-release",
            release_inputs("2.0.0", backend="b:2.0.0", frontend="f:2.0.0"),
            release_inputs("2.1.0", backend="b:2.1.0", frontend="f:2.0.0"),
        )
    )
    report = one(doc)
    assert "**Release**: 2.0.0 -> 2.1.0\n- backend: `b:2.0.0` -> `b:2.1.0`\n" in report
    assert "frontend" not in report.split("**Release**")[1].split("\n\n")[0], "an unchanged image is not listed"
    assert "The release record (see **Release** above)." in report
    assert CIPHERTEXT not in report and CIPHERTEXT not in summary.as_json([summary_of(STACK, doc)])


def test_a_record_updated_only_by_a_new_commit_is_no_release_change():
    old = release_inputs("2.0.0", backend="b:2.0.0")
    new = {**release_inputs("2.0.0", backend="b:2.0.0"), "commit": "c0ffee2", "note": "a new commit"}
    report = one(document(step("update", "release:Release", "staging-release", old, new)))
    assert "**Release**: release unchanged (2.0.0)." in report
    assert "2.0.0 -> 2.0.0" not in report


def test_the_release_line_reads_the_contract_shape_too():
    old = {"version": "2.0.0", "images": {"backend": "b:2.0.0"}}
    new = {"version": "2.1.0", "images": {"backend": "b:2.1.0", "worker": "w:1"}}
    report = one(document(step("update", "release:Release", "staging-release", old, new)))
    assert "**Release**: 2.0.0 -> 2.1.0\n- backend: `b:2.0.0` -> `b:2.1.0`\n- worker: `(none)` -> `w:1`\n" in report


def test_without_a_release_change_in_the_preview_the_declaration_is_the_new_side():
    declared = {"version": "2.1.0", "images": {"backend": "b:2.1.0"}}
    unchanged = one(document(), declared)
    assert "**Release**: release unchanged (2.1.0)." in unchanged
    moved = document(
        step("update", "railway:ServiceInstance", "staging-backend-settings", settings("b:2.0.0"), settings("b:2.1.0")),
        step("update", "railway:ServiceInstance", "staging-database-settings", settings("pg:1"), settings("pg:2")),
    )
    report = one(moved, declared)
    assert "**Release**: 2.1.0 as declared (the stack keeps no record of the one before)" in report
    assert "- backend: `b:2.0.0` -> `b:2.1.0`" in report
    assert "pg:2`" not in report.split("<details>")[0], "the database image is no part of the release"


def test_secrets_are_shown_as_secret_and_variables_by_name_only():
    secret_vars = {
        "project_id": "p",
        "service_name": "backend",
        "secret_names": ["SESSION_SECRET"],
        "variables": "[secret]",
    }
    plain_old = {"service_name": "frontend", "variables": {"BACKEND_URL": PLAIN_VALUE, "GONE": PLAIN_VALUE}}
    plain_new = {"service_name": "frontend", "variables": {"BACKEND_URL": PLAIN_VALUE + "2", "NEW": PLAIN_VALUE}}
    doc = document(
        step("update", "railway:Variables", "staging-backend-variables", secret_vars, secret_vars),
        step("update", "railway:Variables", "staging-frontend-variables", plain_old, plain_new),
        step("update", "railway:Thing", "staging-thing", {"token": "[secret]"}, {"token": "[secret]"}),
        diagnostics=["railway: variables of service backend to apply: LOG_LEVEL changed, SESSION_SECRET changed"],
    )
    report = one(doc)
    assert "| variables | (secret values not shown) | LOG_LEVEL changed, SESSION_SECRET changed [secret] |" in report
    assert "| variables | (secret values not shown) | NEW added, BACKEND_URL changed, GONE removed |" in report
    assert "| token | [secret] | [secret] (may differ) |" in report
    assert PLAIN_VALUE not in report and PLAIN_VALUE not in summary.as_json([summary_of(STACK, doc)])


def test_variables_the_stack_file_declares_in_plain_text_show_their_values():
    old = {"service_name": "backend", "plain_names": ["LOG_LEVEL"], "variables": {"LOG_LEVEL": "warn", "K": "a"}}
    new = {**old, "variables": {"LOG_LEVEL": "error", "K": "b"}}
    report = one(document(step("update", "railway:Variables", "staging-backend-variables", old, new)))
    assert "| variables | (secret values not shown) | K changed, LOG_LEVEL changed: warn → error |" in report
    note = "railway: variables of service backend to apply: LOG_LEVEL changed: warn → error, SESSION_SECRET changed"
    hidden = {"service_name": "backend", "secret_names": ["SESSION_SECRET"], "variables": "[secret]"}
    doc = document(step("update", "railway:Variables", "staging-backend-variables", hidden, hidden), diagnostics=[note])
    assert "LOG_LEVEL changed: warn → error, SESSION_SECRET changed [secret]" in one(doc)


def test_the_changed_resources_are_collapsed_with_their_fields():
    doc = document(
        step("update", "railway:ServiceInstance", "staging-backend-settings", settings("a:1"), settings("a:2")),
        step("create", "railway:ServiceDomain", "staging-frontend-domain", new={"port": 8080}),
    )
    report = one(doc)
    details = report.split("<details><summary>2 resource(s) change</summary>", 1)[1]
    assert details.index("</details>") > details.index("#### update railway:ServiceInstance `staging-backend-settings`")
    assert "| image | a:1 | a:2 |" in details
    assert "| num_replicas |" not in details, "only the fields that change"
    assert report.count("<details>") == report.count("</details>")


def many_changes(count: int) -> dict:
    steps = [
        step("update", "railway:ServiceInstance", f"staging-svc{i}-settings", settings(f"x:{i}"), settings(f"y:{i}"))
        for i in range(count)
    ]
    return document(step("replace", "railway:Volume", "staging-database-volume", volume(), volume("new")), *steps)


def test_a_long_report_is_cut_from_the_end_and_keeps_the_counts_and_banners():
    results = [summary_of("staging", many_changes(1500)), summary_of("prod", many_changes(10))]
    full = "\n".join(render([r], budget=10**9) for r in results)
    assert len(full) > 65_536
    report = render(results)
    assert len(report.encode()) <= summary.COMMENT_BUDGET
    assert report.startswith(MARKER)
    assert "**staging**: 0 to create, 1500 to update, 1 to replace, 0 to delete" in report
    assert "**prod**: 0 to create, 10 to update, 1 to replace, 0 to delete" in report
    assert report.count("> [!CAUTION]") == 2
    assert report.rstrip().endswith("for all of it)_") and "(trimmed" in report
    assert report.count("<details>") == report.count("</details>")


def test_even_a_small_budget_keeps_the_head():
    report = render([summary_of("staging", many_changes(50))], budget=1500)
    assert "**staging**: 0 to create, 50 to update, 1 to replace" in report and "> [!CAUTION]" in report
    assert "(trimmed" in report and report.count("<details>") == report.count("</details>")


def test_policy_findings_by_rule_level_and_message_or_that_the_pack_did_not_run():
    finding = {
        "policyName": "prod-public-replicas",
        "enforcementLevel": "advisory",
        "message": "services.backend.replicas: found 1; allowed: 2 or more",
        "resourceUrn": step("update", "railway:ServiceInstance", "staging-backend-settings")["urn"],
    }
    notes = [
        "policies: 15 rules from policies/, mandatory on staging",
        "policies: WAIVED prod-public-replicas on staging (waived by alice: launch)",
    ]
    ran = one(document(), policies=PolicyResult(True, [finding], notes))
    assert "**Policies**: 1 finding(s) (15 rules from policies/, mandatory on staging)." in ran
    assert "- WAIVED prod-public-replicas on staging (waived by alice: launch)" in ran
    row = "| prod-public-replicas | advisory | `staging-backend-settings` | " + finding["message"] + " |"
    assert row in ran
    assert "**Policies**: no findings" in one(document(), policies=PolicyResult(True, [], notes[:1]))
    skipped = one(document(), policies=PolicyResult(False))
    assert "**Policies**: the policy pack did not run (`--no-policies`)" in skipped


def test_the_findings_of_a_waived_rule_fold_into_one_line():
    waiver = "WAIVED (waived by alice: launch week)"
    urns = [step("update", "railway:ServiceInstance", f"staging-{s}-settings")["urn"] for s in ("a", "b", "c")]
    folded = [
        {"policyName": "replicas", "enforcementLevel": "advisory", "message": f"{waiver}: {s} has 1", "resourceUrn": u}
        for s, u in zip("abc", urns, strict=True)
    ]
    other = {"policyName": "images", "enforcementLevel": "advisory", "message": "not pinned", "resourceUrn": urns[0]}
    report = one(document(), policies=PolicyResult(True, [*folded, other], []))
    rows = [line for line in report.splitlines() if line.startswith("| replicas ")]
    assert rows == [
        "| replicas | waived | 3 resources | WAIVED (waived by alice: launch week): a has 1 (and 2 more like it) |"
    ]
    assert "| images | advisory | `staging-a-settings` | not pinned |" in report
    single = one(document(), policies=PolicyResult(True, folded[:1], []))
    assert "| replicas | waived | `staging-a-settings` | WAIVED (waived by alice: launch week): a has 1 |" in single


def test_the_providers_bookkeeping_is_said_in_words_or_left_out():
    old = {"name": "mvs", "sibling_ids": {}, "adopt_id": None, "declared_as": {"file": "a"}, "expects": {"x": 1}}
    new = {**old, "sibling_ids": {"p-1": "stacks/Pulumi.prod.yaml"}, "declared_as": {"file": "b"}, "expects": {"x": 2}}
    report = one(document(step("update", "railway:Project", "staging-project", old, new)))
    fields = report.split("#### update railway:Project `staging-project`")[1]
    assert "| the project ids other stack files declare | {} |" in fields
    for internal in ("sibling_ids", "adopt_id", "declared_as", "expects"):
        assert internal not in fields, internal


def test_a_preview_the_pack_refused_is_one_line_naming_the_findings(tmp_path: Path):
    refused = PolicyResult(True, [{"policyName": "x", "enforcementLevel": "mandatory", "message": "m"}])
    error = ToolError(["pulumi", "preview"], 255, "error: preview failed")
    line = summary.failure(STACK, error, tmp_path / "events.ndjson", refused)
    assert "policy pack refuses it: 1 mandatory finding(s)" in line and "\n" not in line
    other = summary.failure(STACK, error, tmp_path / "events.ndjson", PolicyResult(False))
    assert (
        other
        == "could not preview it (preview failed); nothing was changed: fix that and run ./mvs summary staging again"
    )


def test_a_stack_not_previewed_is_named_in_the_head():
    failed = summary.StackSummary("prod", error="its stack file has 2 problem(s); run ./mvs validate prod")
    report = render([summary_of(STACK, document()), failed])
    assert "**prod**: not previewed: its stack file has 2 problem(s); run ./mvs validate prod" in report
    assert summary.exit_code([failed]) == 1 and summary.exit_code([summary_of(STACK, document())]) == 0


def test_json_gives_the_same_data():
    doc = document(
        step("replace", "railway:Volume", "staging-database-volume", volume(), volume("new")),
        step("update", "railway:ServiceInstance", "staging-backend-settings", settings("b:1"), settings("b:2")),
        step(
            "update",
            "release:Release",
            "staging-release",
            release_inputs("1.0.0", backend="b:1"),
            release_inputs("1.1.0", backend="b:2"),
        ),
    )
    result = summary_of(STACK, doc)
    result.policies = PolicyResult(False)
    (data,) = json.loads(summary.as_json([result]))["stacks"]
    assert data["counts"] == {"create": 0, "update": 2, "replace": 1, "delete": 0} and data["unchanged"] == 10
    assert data["data_at_risk"] == [
        {"op": "replace", "type": "railway:Volume", "name": "staging-database-volume", "holds": "the database volume"}
    ]
    assert data["release"]["old_version"] == "1.0.0" and data["release"]["new_version"] == "1.1.0"
    assert data["release"]["images"] == [["backend", "b:1", "b:2"]]
    assert data["policies"]["ran"] is False and data["error"] is None
    settings_change = next(c for c in data["changes"] if c["name"] == "staging-backend-settings")
    assert settings_change["fields"] == [{"field": "image", "now": "b:1", "after_up": "b:2"}]
