"""What a provider takes as its own after a lost answer or an interrupted run (issue 8, points 10
and 14), called directly against the emulator: a deployment only if this run made it, a project
only when exactly one existing project can be the declared one. The real CLI's side is in
tests/engine/test_railway_adoption.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from components.errors import RailwayOutcomeUnknown, RailwayProjectAmbiguous
from components.provider_process import one_line
from components.railway.client import ServerTimes
from components.railway.providers import base
from components.railway.providers.deployment import DeploymentProvider
from components.railway.providers.project import ProjectProvider
from components.spec import Sibling, shared_project_ids

from .conftest import create_project
from .test_providers import configured
from .test_providers import world as world  # the fixture: a project, staging and a backend service

DEPLOY = "mutation($s: String!, $e: String!) { serviceInstanceDeployV2(serviceId: $s, environmentId: $e) }"
SET_VARIABLE = (
    "mutation($p: String!, $e: String!, $s: String!, $v: EnvironmentVariables!) { variableCollectionUpsert("
    "input: {projectId: $p, environmentId: $e, serviceId: $s, variables: $v, skipDeploys: true}) }"
)


def deploy_props(world) -> dict:
    return {"service_id": world["service_id"], "environment_id": world["environment_id"], "service_name": "backend"}


def deploy_in_dashboard(emulator, world) -> str:
    """A deployment made outside this run (a dashboard redeploy, a cron run): returns its id."""
    result = emulator.dashboard(DEPLOY, {"s": world["service_id"], "e": world["environment_id"]})
    assert not result["errors"], result
    return result["data"]["serviceInstanceDeployV2"]


def set_variable(emulator, world, value: str) -> None:
    variables = {"p": world["project_id"], "e": world["environment_id"], "s": world["service_id"]}
    result = emulator.dashboard(SET_VARIABLE, {**variables, "v": {"LOG_LEVEL": value}})
    assert not result["errors"], result


def ran_with(emulator, deployment_id: str) -> dict:
    """The variables a deployment runs with (the snapshot the emulator took when it started)."""
    return emulator.state()["deployments"][deployment_id]["_snapshot"]["variables"]


# ---- point 10: a deployment is ours only if this run made it ---------------------------------


def test_a_deployment_made_just_before_a_lost_deploy_request_is_never_adopted(emulator, world):
    set_variable(emulator, world, "info")
    theirs = deploy_in_dashboard(emulator, world)  # seconds before ours, on the old settings
    set_variable(emulator, world, "debug")  # what this run writes before it deploys
    emulator.faults({"kind": "error", "status": 502, "operations": ["serviceInstanceDeployV2"], "count": 1})

    result = configured(DeploymentProvider, emulator).create({**deploy_props(world), "fingerprint": "x"})

    assert result.id != theirs, "a deployment that existed before the request is never ours"
    assert result.outs["status"] == "SUCCESS"
    assert ran_with(emulator, result.id)["LOG_LEVEL"] == "debug", "reported applied only when it runs the change"
    assert set(emulator.state()["deployments"]) == {theirs, result.id}, "exactly one deployment of ours"


def test_after_a_lost_answer_the_deployment_the_request_made_is_adopted_not_an_older_one(emulator, world):
    theirs = deploy_in_dashboard(emulator, world)
    set_variable(emulator, world, "debug")
    emulator.faults({"kind": "fail_after_commit", "operations": ["serviceInstanceDeployV2"], "count": 1})

    result = configured(DeploymentProvider, emulator).create({**deploy_props(world), "fingerprint": "x"})

    deployments = emulator.state()["deployments"]
    assert len(deployments) == 2 and theirs in deployments, "no second deployment of ours"
    assert result.id != theirs and result.outs["status"] == "SUCCESS"
    assert ran_with(emulator, result.id)["LOG_LEVEL"] == "debug"


def test_a_deploy_costs_one_request_more_than_before(emulator, world, request_log):
    configured(DeploymentProvider, emulator).create({**deploy_props(world), "fingerprint": "x"})
    sent = [e["operation"] for e in request_log()]
    deploy = sent.index("serviceInstanceDeployV2")
    assert sent[deploy - 1 : deploy + 1] == ["deployments", "serviceInstanceDeployV2"]
    assert sent.count("deployments") == 1, "the newest deployment is noted once, before asking"


# ---- issue 13: no read before a deploy; Railway's clock bounds what a lost answer may adopt ----


@pytest.fixture
def server_times(monkeypatch) -> ServerTimes:
    """As in a provider process: every answer's `Date` is noted (client.ServerTimes)."""
    times = ServerTimes()
    monkeypatch.setattr(base, "PROCESS_SERVER_TIMES", times)
    return times


def write_as_this_run(emulator, world, value: str) -> None:
    """The run's own write to the service (through a provider's client, so its answer is noted)."""
    scope = {"projectId": world["project_id"], "environmentId": world["environment_id"]}
    variables = {**scope, "serviceId": world["service_id"], "variables": {"LOG_LEVEL": value}, "skipDeploys": True}
    with configured(DeploymentProvider, emulator).client() as client:
        client.execute("variableCollectionUpsert", {"input": variables})


def test_answers_carry_railways_clock_which_the_process_keeps(emulator, world, server_times):
    emulator.admin("clock", {"advance_hours": 2})
    write_as_this_run(emulator, world, "info")
    latest = server_times.latest(emulator.url)
    assert latest is not None
    assert abs(latest - (datetime.now(UTC) + timedelta(hours=2))) < timedelta(seconds=5), latest


def test_a_deploy_asks_nothing_first_and_adopts_what_a_lost_answer_made_after_the_writes(
    emulator, world, server_times, request_log
):
    write_as_this_run(emulator, world, "debug")
    emulator.admin("clock", {"advance_seconds": 1.0})  # the deploy comes a second after the write's answer
    emulator.faults({"kind": "fail_after_commit", "operations": ["serviceInstanceDeployV2"], "count": 1})
    before = len(request_log())

    result = configured(DeploymentProvider, emulator).create({**deploy_props(world), "fingerprint": "x"})

    assert list(emulator.state()["deployments"]) == [result.id], "adopted: no second deployment"
    assert ran_with(emulator, result.id)["LOG_LEVEL"] == "debug"
    sent = [e["operation"] for e in request_log()[before:]]
    assert sent[0] == "serviceInstanceDeployV2", f"nothing is read before the deploy: {sent}"
    assert sent.count("serviceInstanceDeployV2") == 1


def test_a_deployment_in_the_second_of_the_last_write_is_never_adopted(emulator, world, server_times):
    set_variable(emulator, world, "info")
    theirs = deploy_in_dashboard(emulator, world)  # just before this run's write, on the old value
    write_as_this_run(emulator, world, "debug")
    emulator.faults({"kind": "error", "status": 502, "operations": ["serviceInstanceDeployV2"], "count": 1})

    result = configured(DeploymentProvider, emulator).create({**deploy_props(world), "fingerprint": "x"})

    assert result.id != theirs, "it may predate the write: never taken as ours"
    assert ran_with(emulator, result.id)["LOG_LEVEL"] == "debug"
    assert set(emulator.state()["deployments"]) == {theirs, result.id}


# ---- issue 22, point 9: one deployment for a lost answer, told apart by what it deploys ----------

SET_IMAGE = (
    "mutation($s: String!, $e: String!, $i: String!) { "
    "serviceInstanceUpdate(serviceId: $s, environmentId: $e, input: {source: {image: $i}}) }"
)


def set_image(emulator, world, image: str) -> None:
    result = emulator.dashboard(SET_IMAGE, {"s": world["service_id"], "e": world["environment_id"], "i": image})
    assert not result["errors"], result


def test_a_lost_deploy_right_after_a_variable_write_makes_one_deployment(emulator, world, server_times):
    """The usual case: the deploy follows the run's variable write within the same second of
    Railway's clock. The deploy waits until that second is surely over (no request), so the
    deployment a lost answer made is adopted by time, never asked for twice."""
    set_image(emulator, world, "ghcr.io/mvs-app/api:2.0.0")
    write_as_this_run(emulator, world, "debug")
    emulator.faults({"kind": "fail_after_commit", "operations": ["serviceInstanceDeployV2"], "count": 1})
    expects = {"image": "ghcr.io/mvs-app/api:2.0.0", "deploy": {}}

    result = configured(DeploymentProvider, emulator).create(
        {**deploy_props(world), "fingerprint": "x", "expects": expects}
    )

    assert list(emulator.state()["deployments"]) == [result.id], "one deployment, adopted"
    assert ran_with(emulator, result.id)["LOG_LEVEL"] == "debug"


def test_a_later_deployment_of_other_settings_is_not_taken_for_the_one_a_lost_answer_made(
    emulator, world, server_times, monkeypatch
):
    """Between the lost answer and the listing, someone deploys another image in the dashboard: the
    newest deployment is theirs. What it deploys tells it from ours."""
    from components.railway.providers import deployment as deployment_module

    set_image(emulator, world, "ghcr.io/mvs-app/api:2.0.0")
    write_as_this_run(emulator, world, "debug")
    emulator.faults({"kind": "fail_after_commit", "operations": ["serviceInstanceDeployV2"], "count": 1})
    real_newest, theirs = deployment_module.newest, []

    def someone_deploys_first(client, scope, count):
        if count > 1 and not theirs:  # the listing after the lost answer
            set_image(emulator, world, "ghcr.io/mvs-app/api:9.9.9-hotfix")
            theirs.append(deploy_in_dashboard(emulator, world))
        return real_newest(client, scope, count)

    monkeypatch.setattr(deployment_module, "newest", someone_deploys_first)
    expects = {"image": "ghcr.io/mvs-app/api:2.0.0", "deploy": {}}

    result = configured(DeploymentProvider, emulator).create(
        {**deploy_props(world), "fingerprint": "x", "expects": expects}
    )

    deployments = emulator.state()["deployments"]
    assert theirs and result.id != theirs[0], "the newest deployment is not ours"
    assert len(deployments) == 2, "ours was adopted, not asked for again"
    assert deployments[result.id]["meta"]["image"] == "ghcr.io/mvs-app/api:2.0.0"


# ---- point 14: one project, never a silent second one ----------------------------------------


def project_props(**overrides) -> dict:
    return {
        "adopt_id": None,
        "name": "mvs",
        "description": "",
        "first_environment": "staging",
        "sibling_ids": {},
        "stack_file": "stacks/Pulumi.staging.yaml",
        **overrides,
    }


def sent(request_log, name: str) -> int:
    return len(request_log(name))


def test_a_project_an_interrupted_run_created_is_adopted_not_made_again(emulator, client, request_log):
    left = create_project(client, "mvs")  # projectCreate reached Railway; the run was killed before its state
    before = sent(request_log, "projectCreate")

    result = configured(ProjectProvider, emulator).create(project_props())

    assert result.id == left.id
    assert result.outs["adopt_id"] is None, "made by this stack: deleted by its destroy once nothing uses it"
    assert list(emulator.state()["projects"]) == [left.id]
    assert sent(request_log, "projectCreate") == before


def test_a_project_create_whose_answer_is_lost_is_adopted_in_the_same_run(emulator, request_log):
    emulator.faults({"kind": "fail_after_commit", "operations": ["projectCreate"], "count": 1})

    result = configured(ProjectProvider, emulator).create(project_props())

    assert list(emulator.state()["projects"]) == [result.id]
    assert sent(request_log, "projectCreate") == 1


def test_a_project_a_sibling_stack_declares_by_id_is_found_whatever_its_name(emulator, client):
    prods = create_project(client, "renamed-in-the-dashboard")
    create_project(client, "somebody-else")

    result = configured(ProjectProvider, emulator).create(
        project_props(sibling_ids={prods.id: "stacks/Pulumi.prod.yaml"})
    )

    assert result.id == prods.id and len(emulator.state()["projects"]) == 2


def test_a_vanished_sibling_project_does_not_stop_a_create(emulator, request_log):
    gone = "00000000-0000-4000-8000-000000000000"
    result = configured(ProjectProvider, emulator).create(project_props(sibling_ids={gone: "stacks/Pulumi.prod.yaml"}))
    assert list(emulator.state()["projects"]) == [result.id] and sent(request_log, "projectCreate") == 1


@pytest.mark.parametrize("how", ["two with the name", "one by name, another by a sibling's id"])
def test_when_several_projects_could_be_meant_nothing_is_created_and_all_are_listed(emulator, client, request_log, how):
    first = create_project(client, "mvs")
    second = create_project(client, "mvs" if how == "two with the name" else "prod-project")
    siblings = {} if how == "two with the name" else {second.id: "stacks/Pulumi.prod.yaml"}

    with pytest.raises(RailwayProjectAmbiguous) as raised:
        configured(ProjectProvider, emulator).create(project_props(sibling_ids=siblings))

    message = one_line(raised.value)
    assert "\n" not in message
    projects = emulator.state()["projects"]
    for project in (first, second):
        assert f"(id {project.id}, created {projects[project.id]['createdAt']}" in message
    assert "set mvs:environment.railway.project_id in stacks/Pulumi.staging.yaml" in message
    if siblings:
        assert f"(id {second.id}, created {projects[second.id]['createdAt']}, declared by stacks/Pulumi.prod.yaml)" in (
            message
        )
    assert len(projects) == 2 and sent(request_log, "projectCreate") == 2, "only the two the test made"


def test_a_lost_create_among_candidates_it_cannot_tell_apart_stays_unknown(emulator, client):
    emulator.faults({"kind": "fail_after_commit", "operations": ["projectCreate"], "count": 1})
    provider = configured(ProjectProvider, emulator)
    original = provider._candidates
    calls = []

    def racing(client_, props):
        calls.append(1)
        if len(calls) == 2:  # another "mvs" appeared while ours was being made: never guess
            create_project(client, "mvs")
        return original(client_, props)

    provider._candidates = racing
    with pytest.raises(RailwayOutcomeUnknown):
        provider.create(project_props())


def test_sibling_ids_count_only_for_stacks_that_share_the_project():
    def sibling(stack: str, **railway) -> Sibling:
        return Sibling(stack, f"stacks/Pulumi.{stack}.yaml", {"target": "railway", "railway": railway})

    pid, other = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
    siblings = [
        sibling("prod", project_id=pid),  # the default name, like ours: shared
        sibling("qa", project_id=other, project_name="qa-project"),  # a project of its own
        sibling("dev"),  # no id to offer
        Sibling("local", "stacks/Pulumi.local.yaml", {"target": "docker"}),
    ]
    assert shared_project_ids({"project_name": "mvs", "project_id": None}, siblings) == {pid: "stacks/Pulumi.prod.yaml"}
    assert shared_project_ids({"project_name": "qa-project", "project_id": None}, siblings) == {
        other: "stacks/Pulumi.qa.yaml"
    }


def test_projects_are_sought_on_every_page():
    class Paged:
        """Railway's connection, two projects a page."""

        def __init__(self, names: list[str]):
            self.pages = [names[i : i + 2] for i in range(0, len(names), 2)]
            self.asked: list = []

        def execute(self, operation: str, variables: dict) -> dict:
            assert operation == "projects"
            self.asked.append(variables["after"])
            index = 0 if variables["after"] is None else int(variables["after"])
            nodes = [{"id": f"p{index}-{i}", "name": n, "createdAt": ""} for i, n in enumerate(self.pages[index])]
            more = index + 1 < len(self.pages)
            page_info = {"hasNextPage": more, "endCursor": str(index + 1) if more else None}
            return {"projects": {"edges": [{"node": n} for n in nodes], "pageInfo": page_info}}

    client = Paged(["a", "b", "c", "d", "mvs"])
    assert [p["id"] for p in ProjectProvider._candidates(client, project_props())] == ["p2-0"]
    assert client.asked == [None, "1", "2"]
