"""The emulator's rollback as Railway documents it: deploymentRollback runs the target's snapshot
(image and variables) in a new deployment and leaves the service's settings alone; canRollback
follows the plan's image retention after removal; the deployment history lists newest first with
DeploymentListInput's filters and Relay paging; and a time-based lifecycle for benchmarks.
Raw GraphQL against the emulator, validated against Railway's schema; time moves only through the
admin clock, so no test waits or asserts on the wall clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from components.railway.client import RailwayClient
from tests.railway.conftest import EmulatorHandle, Project, create_environment, create_project, create_service

DEPLOYMENT = "query($id: String!) { deployment(id: $id) { id status canRollback meta createdAt statusUpdatedAt } }"
HISTORY = """
query($input: DeploymentListInput!, $first: Int, $after: String, $last: Int, $before: String) {
  deployments(input: $input, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id status serviceId environmentId canRollback meta } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""
ROLLBACK = "mutation($id: String!) { deploymentRollback(id: $id) }"
HOUR = 3600
RETENTION_HOURS = {"FREE": 24, "TRIAL": 24, "HOBBY": 72, "PRO": 120, "ENTERPRISE": 360}


# ---- helpers --------------------------------------------------------------------------------


def graphql(emulator: EmulatorHandle, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """A request that must succeed: its data."""
    response = emulator.post(query, variables)
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


def refused(response: httpx.Response) -> str:
    """The message of an execution error, answered as Railway answers them: 200, errors[], no data."""
    body = response.json()
    assert response.status_code == 200, body
    assert body["data"] is None and len(body["errors"]) == 1, body
    return body["errors"][0]["message"]


def read(emulator: EmulatorHandle, deployment_id: str) -> dict[str, Any]:
    return graphql(emulator, DEPLOYMENT, {"id": deployment_id})["deployment"]


def read_until_final(emulator: EmulatorHandle, deployment_id: str) -> str:
    """Poll as a client does (one step per read in the default lifecycle): its final status."""
    for _ in range(5):
        status = read(emulator, deployment_id)["status"]
        if status not in ("QUEUED", "BUILDING", "DEPLOYING"):
            return status
    raise AssertionError(f"{deployment_id} did not end")


def history(emulator: EmulatorHandle, **arguments: Any) -> dict[str, Any]:
    return graphql(emulator, HISTORY, arguments)["deployments"]


def ids(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


def rollback(emulator: EmulatorHandle, deployment_id: str) -> httpx.Response:
    return emulator.post(ROLLBACK, {"id": deployment_id})


def advance(emulator: EmulatorHandle, hours: float = 0, seconds: float = 0) -> dict[str, Any]:
    return emulator.admin("clock", {"advance_hours": hours, "advance_seconds": seconds})


def seconds_between(earlier: str, later: str) -> float:
    def moment(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    return (moment(later) - moment(earlier)).total_seconds()


class App:
    """One service of a project; `release` configures it as a deploy would and deploys it."""

    def __init__(self, emulator: EmulatorHandle, client: RailwayClient, name: str = "api"):
        self.emulator = emulator
        self.project: Project = create_project(client)
        self.service = create_service(client, self.project.id, name)
        self.scope = {"serviceId": self.service, "environmentId": self.project.production}

    def configure(self, image: str, variables: dict[str, str], **settings: Any) -> None:
        self.emulator.data("serviceInstanceUpdate", {**self.scope, "input": {"source": {"image": image}, **settings}})
        scope = {"projectId": self.project.id, **self.scope}
        self.emulator.data(
            "variableCollectionUpsert",
            {"input": {**scope, "variables": variables, "replace": True, "skipDeploys": True}},
        )

    def deploy(self) -> str:
        return self.emulator.data("serviceInstanceDeployV2", self.scope)["serviceInstanceDeployV2"]

    def release(self, image: str, variables: dict[str, str], **settings: Any) -> str:
        """Configure, deploy and read until it ends SUCCESS: the deployment id."""
        self.configure(image, variables, **settings)
        deployment = self.deploy()
        assert read_until_final(self.emulator, deployment) == "SUCCESS"
        return deployment

    def instance(self) -> dict[str, Any]:
        return self.emulator.data("serviceInstance", self.scope)["serviceInstance"]

    def variables(self) -> dict[str, str]:
        query = {"projectId": self.project.id, **self.scope, "unrendered": True}
        return self.emulator.data("variables", query)["variables"]

    def history(self, **arguments: Any) -> dict[str, Any]:
        return history(self.emulator, input=self.scope, **arguments)

    def newest(self) -> dict[str, Any]:
        return self.history(first=1)["edges"][0]["node"]


def removed_release(emulator: EmulatorHandle, client: RailwayClient) -> tuple[App, str, str]:
    """Release 1.0.0 then 2.0.0: (app, the REMOVED first deployment, the serving second)."""
    app = App(emulator, client)
    first = app.release("ghcr.io/mvs-app/api:1.0.0", {"RELEASE": "1", "DATABASE_URL": "postgres://db/one"})
    second = app.release("ghcr.io/mvs-app/api:2.0.0", {"RELEASE": "2", "FEATURE": "on"})
    assert read(emulator, first)["status"] == "REMOVED"
    return app, first, second


# ---- what a rollback deploys ----------------------------------------------------------------


def test_a_rollback_runs_the_old_image_and_variables_and_leaves_the_service_settings_alone(emulator, client):
    app, first, second = removed_release(emulator, client)
    app.configure("ghcr.io/mvs-app/api:2.0.0", {"RELEASE": "2", "FEATURE": "on"}, healthcheckPath="/ready")
    settings_before, variables_before = app.instance(), app.variables()

    assert graphql(emulator, ROLLBACK, {"id": first}) == {"deploymentRollback": True}
    node = app.newest()
    assert node["id"] not in (first, second)
    assert node["meta"]["image"] == "ghcr.io/mvs-app/api:1.0.0"
    assert node["meta"]["rollbackOf"] == first
    assert read_until_final(emulator, node["id"]) == "SUCCESS"
    assert read(emulator, second)["status"] == "REMOVED"

    deployments = emulator.state()["deployments"]
    assert deployments[node["id"]]["_snapshot"]["variables"] == {"RELEASE": "1", "DATABASE_URL": "postgres://db/one"}
    assert deployments[node["id"]]["_snapshot"]["instance"]["healthcheckPath"] is None  # the old deployment's
    assert app.instance() == {**settings_before, "latestDeployment": app.instance()["latestDeployment"]}
    assert app.instance()["source"] == {"image": "ghcr.io/mvs-app/api:2.0.0", "repo": None}
    assert app.instance()["healthcheckPath"] == "/ready"
    assert app.variables() == variables_before == {"RELEASE": "2", "FEATURE": "on"}


def test_the_next_ordinary_deploy_runs_the_service_settings_again(emulator, client):
    app, first, _ = removed_release(emulator, client)
    graphql(emulator, ROLLBACK, {"id": first})
    read_until_final(emulator, app.newest()["id"])
    again = app.deploy()
    meta = read(emulator, again)["meta"]
    assert (meta["image"], meta["reason"], "rollbackOf" in meta) == ("ghcr.io/mvs-app/api:2.0.0", None, False)
    assert emulator.state()["deployments"][again]["_snapshot"]["variables"] == {"RELEASE": "2", "FEATURE": "on"}


def test_an_ordinary_deployment_has_no_rollback_key_and_says_its_image(emulator, client):
    app = App(emulator, client)
    deployment = app.release("ghcr.io/mvs-app/api:1.0.0", {})
    meta = read(emulator, deployment)["meta"]
    assert set(meta) == {"image", "reason", "serviceManifest"}, "no rollback key"
    assert (meta["image"], meta["reason"]) == ("ghcr.io/mvs-app/api:1.0.0", None)
    assert set(meta["serviceManifest"]["deploy"]) >= {"startCommand", "healthcheckPath", "numReplicas"}


def test_the_removal_is_recorded_when_the_next_deployment_succeeds(emulator, client):
    _, first, second = removed_release(emulator, client)
    deployments = emulator.state()["deployments"]
    assert deployments[first]["_removedAt"] == deployments[second]["statusUpdatedAt"]
    assert deployments[first]["statusUpdatedAt"] == deployments[first]["_removedAt"]
    assert "_removedAt" not in deployments[second]


# ---- what can be rolled back ----------------------------------------------------------------


@pytest.mark.parametrize("plan", sorted(RETENTION_HOURS))
def test_a_removed_deployment_can_be_rolled_back_only_within_the_plans_image_retention(emulator, client, plan):
    answer = emulator.admin("plan", {"plan": plan.lower()})
    assert answer["plan"] == plan and answer["retention_hours"] == RETENTION_HOURS[plan]
    app, first, second = removed_release(emulator, client)
    advance(emulator, hours=RETENTION_HOURS[plan], seconds=-60)
    assert read(emulator, first)["canRollback"] is True
    assert [e["node"]["canRollback"] for e in app.history()["edges"]] == [True, True]

    advance(emulator, seconds=120)
    assert read(emulator, first)["canRollback"] is False
    assert [e["node"]["canRollback"] for e in app.history()["edges"]] == [True, False]  # the serving one stays
    assert refused(rollback(emulator, first)) == "Deployment cannot be rolled back"
    assert ids(app.history()) == [second, first], "nothing was deployed"


def test_the_default_plan_is_hobby_and_a_rollback_inside_72_hours_deploys(emulator, client):
    app, first, second = removed_release(emulator, client)
    advance(emulator, hours=71)
    assert graphql(emulator, ROLLBACK, {"id": first}) == {"deploymentRollback": True}
    assert read_until_final(emulator, app.newest()["id"]) == "SUCCESS"
    advance(emulator, hours=2)  # 73h after the first was removed; the second was removed only 2h ago
    assert read(emulator, first)["canRollback"] is False
    assert refused(rollback(emulator, first)) == "Deployment cannot be rolled back"
    assert graphql(emulator, ROLLBACK, {"id": second}) == {"deploymentRollback": True}


def test_retention_counts_from_the_removal_not_from_the_deployment(emulator, client):
    app = App(emulator, client)
    first = app.release("ghcr.io/mvs-app/api:1.0.0", {})
    advance(emulator, hours=100)  # served for 100 hours, then replaced
    app.release("ghcr.io/mvs-app/api:2.0.0", {})
    advance(emulator, hours=71)
    assert read(emulator, first)["canRollback"] is True


def test_a_successful_deployment_can_always_be_rolled_back(emulator, client):
    app = App(emulator, client)
    deployment = app.release("ghcr.io/mvs-app/api:1.0.0", {})
    advance(emulator, hours=1000)
    assert read(emulator, deployment)["canRollback"] is True
    assert graphql(emulator, ROLLBACK, {"id": deployment}) == {"deploymentRollback": True}


@pytest.mark.parametrize("reads, status", [(0, "QUEUED"), (1, "BUILDING"), (2, "DEPLOYING")])
def test_a_deployment_that_has_not_ended_cannot_be_rolled_back(emulator, client, reads, status):
    app = App(emulator, client)
    app.configure("ghcr.io/mvs-app/api:1.0.0", {})
    deployment = app.deploy()
    for _ in range(reads):
        read(emulator, deployment)
    node = app.newest()  # the history does not move a deployment on
    assert (node["status"], node["canRollback"]) == (status, False)
    assert refused(rollback(emulator, deployment)) == "Deployment cannot be rolled back"
    assert ids(app.history()) == [deployment]


@pytest.mark.parametrize("outcome", ["FAILED", "CRASHED"])
def test_a_deployment_that_failed_or_crashed_cannot_be_rolled_back(emulator, client, outcome):
    app = App(emulator, client)
    emulator.behaviour("api", outcome)
    app.configure("ghcr.io/mvs-app/api:1.0.0", {})
    deployment = app.deploy()
    assert read_until_final(emulator, deployment) == outcome
    assert read(emulator, deployment)["canRollback"] is False
    assert refused(rollback(emulator, deployment)) == "Deployment cannot be rolled back"


def test_a_deployment_whose_service_left_the_environment_cannot_be_rolled_back(emulator, client):
    app, first, second = removed_release(emulator, client)
    emulator.data("serviceDelete", {"id": app.service, "environmentId": app.project.production})
    assert emulator.state()["deployments"][second]["status"] == "REMOVED"
    assert refused(rollback(emulator, first)) == "Deployment cannot be rolled back"
    assert refused(rollback(emulator, second)) == "Deployment cannot be rolled back"


def test_an_unknown_deployment_is_not_found(emulator):
    assert refused(rollback(emulator, "no-such-deployment")) == "Deployment not found"


def test_rollback_requests_are_validated_against_the_schema(emulator):
    for query in (
        "mutation { deploymentRollback(id: 42) }",
        'mutation { deploymentRollback(id: "x") { id status } }',  # a Boolean has no fields
        "mutation { deploymentRollback }",
    ):
        response = emulator.post(query)
        assert response.status_code == 400, query
        assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_a_project_token_cannot_roll_back_another_projects_deployment(emulator, client):
    _, first, _ = removed_release(emulator, client)
    other = create_project(client, "other")
    emulator.register_token("other-project", "project", other.id, other.production)
    response = emulator.post(ROLLBACK, {"id": first}, headers={"Project-Access-Token": "other-project"})
    assert refused(response) == "Not Authorized"


# ---- the deployment history -----------------------------------------------------------------


def test_the_history_lists_newest_first_and_filters_by_project_environment_service_and_status(emulator, client):
    app = App(emulator, client)
    staging = create_environment(client, app.project.id, "staging")
    worker = create_service(client, app.project.id, "worker")
    d1 = app.release("ghcr.io/mvs-app/api:1.0.0", {})
    d2 = app.release("ghcr.io/mvs-app/api:2.0.0", {})
    emulator.data("serviceInstanceUpdate", {"serviceId": worker, "environmentId": staging, "input": {}})
    w1 = emulator.data("serviceInstanceDeployV2", {"serviceId": worker, "environmentId": staging})
    w1 = w1["serviceInstanceDeployV2"]
    d3 = app.deploy()  # QUEUED
    other = create_project(client, "other")
    elsewhere = create_service(client, other.id, "api", image="ghcr.io/mvs-app/api:1.0.0")

    assert ids(app.history()) == [d3, d2, d1]
    assert ids(history(emulator, input={"projectId": app.project.id})) == [d3, w1, d2, d1]
    assert ids(history(emulator, input={"environmentId": staging})) == [w1]
    assert ids(history(emulator, input={"serviceId": worker})) == [w1]
    assert ids(history(emulator, input={"projectId": other.id, "serviceId": elsewhere})) != []
    assert ids(history(emulator, input={"projectId": app.project.id, "serviceId": elsewhere})) == []
    assert ids(app.history(first=1)) == [d3]
    scope = app.scope
    assert ids(history(emulator, input={**scope, "status": {"in": ["SUCCESS", "REMOVED"]}})) == [d2, d1]
    assert ids(history(emulator, input={**scope, "status": {"in": ["QUEUED"]}})) == [d3]
    assert ids(history(emulator, input={**scope, "status": {"notIn": ["REMOVED"]}})) == [d3, d2]
    assert ids(history(emulator, input={**scope, "status": {"in": ["SUCCESS"], "notIn": ["SUCCESS"]}})) == []
    assert [e["node"]["status"] for e in app.history()["edges"]] == ["QUEUED", "SUCCESS", "REMOVED"]


def test_deployments_made_in_the_same_millisecond_keep_their_order(emulator, client):
    app = App(emulator, client)
    app.configure("ghcr.io/mvs-app/api:1.0.0", {})
    made = [app.deploy() for _ in range(6)]
    assert ids(app.history()) == made[::-1]
    assert app.instance()["latestDeployment"]["id"] == made[-1]


def test_the_history_pages_forward_and_backward_with_cursors(emulator, client):
    app = App(emulator, client)
    app.configure("ghcr.io/mvs-app/api:1.0.0", {})
    made = [app.deploy() for _ in range(5)][::-1]  # newest first

    page = app.history(first=2)
    assert ids(page) == made[:2]
    assert [edge["cursor"] for edge in page["edges"]] == made[:2]
    assert page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": made[0],
        "endCursor": made[1],
    }
    page = app.history(first=2, after=page["pageInfo"]["endCursor"])
    assert ids(page) == made[2:4]
    assert (page["pageInfo"]["hasNextPage"], page["pageInfo"]["hasPreviousPage"]) == (True, True)
    page = app.history(first=2, after=page["pageInfo"]["endCursor"])
    assert ids(page) == made[4:]
    assert (page["pageInfo"]["hasNextPage"], page["pageInfo"]["hasPreviousPage"]) == (False, True)

    page = app.history(last=2)
    assert ids(page) == made[3:]
    assert (page["pageInfo"]["hasNextPage"], page["pageInfo"]["hasPreviousPage"]) == (False, True)
    page = app.history(last=2, before=made[3])
    assert ids(page) == made[1:3]
    assert ids(app.history(after=made[0], before=made[4])) == made[1:4]
    assert ids(app.history(first=0)) == []
    assert app.history()["pageInfo"]["hasNextPage"] is False


def test_the_history_refuses_a_cursor_it_never_gave_and_a_negative_count(emulator, client):
    app = App(emulator, client)
    app.release("ghcr.io/mvs-app/api:1.0.0", {})
    for arguments in ({"after": "no-such-cursor"}, {"first": -1}):
        response = emulator.post(HISTORY, {"input": app.scope, **arguments})
        assert response.status_code == 200
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_the_status_filter_has_railways_input_shape(emulator):
    bad = [
        ('{ deployments(input: {status: "SUCCESS"}) { edges { node { id } } } }', "a plain status"),
        ("{ deployments(input: {status: {in: [DONE]}}) { edges { node { id } } } }", "no such DeploymentStatus"),
        ("{ deployments(input: {}, first: 1) { nodes { id } } }", "no nodes field"),
    ]
    for query, why in bad:
        response = emulator.post(query)
        assert response.status_code == 400, why
        assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", why
    good = emulator.post("{ deployments(input: {status: {in: [SUCCESS], notIn: [REMOVED]}}) { edges { cursor } } }")
    assert good.status_code == 200 and good.json() == {"data": {"deployments": {"edges": []}}}


# ---- plan and clock -------------------------------------------------------------------------


def test_the_plan_sets_the_hourly_rate_limit_where_railway_documents_one(emulator):
    assert emulator.post("{ me { id } }").headers["X-RateLimit-Limit"] == "1000"  # Hobby's, the default
    assert emulator.admin("plan", {"plan": "FREE"})["requests_per_hour"] == 100
    assert emulator.post("{ me { id } }").headers["X-RateLimit-Limit"] == "100"
    emulator.admin("plan", {"plan": "PRO"})
    assert emulator.post("{ me { id } }").headers["RateLimit-Policy"] == "10000;w=3600"
    assert emulator.admin("plan", {"plan": "ENTERPRISE"})["requests_per_hour"] is None  # custom: left as is
    assert emulator.post("{ me { id } }").headers["X-RateLimit-Limit"] == "10000"
    assert emulator.state()["settings"]["plan"] == "ENTERPRISE"


def test_the_clock_moves_what_the_model_records(emulator, client):
    app = App(emulator, client)
    before = app.release("ghcr.io/mvs-app/api:1.0.0", {})
    answer = advance(emulator, hours=73)
    assert answer["offset_seconds"] == 73 * HOUR
    after = app.deploy()
    gap = seconds_between(read(emulator, before)["createdAt"], read(emulator, after)["createdAt"])
    assert gap >= 73 * HOUR
    assert seconds_between(read(emulator, before)["createdAt"], answer["now"]) >= 73 * HOUR
    first_line = emulator.state()["logs"][after][0]["timestamp"]  # logs follow the same clock
    assert seconds_between(read(emulator, before)["createdAt"], first_line[:19] + "Z") >= 73 * HOUR - 1


def test_reset_puts_plan_clock_and_lifecycle_back_to_their_defaults(emulator):
    emulator.admin("plan", {"plan": "PRO"})
    advance(emulator, hours=5)
    emulator.admin("lifecycle", {"deploy_seconds": 30})
    emulator.admin("reset")
    assert emulator.state()["settings"] == {"plan": "HOBBY", "clock_offset_seconds": 0.0, "deploy_seconds": None}


@pytest.mark.parametrize(
    "path, payload",
    [
        ("plan", {"plan": "GOLD"}),
        ("plan", {}),
        ("clock", {"advance_hours": -1}),
        ("clock", {"advance_seconds": "soon"}),
        ("lifecycle", {"deploy_seconds": -5}),
        ("lifecycle", {"deploy_seconds": "fast"}),
    ],
)
def test_admin_settings_refuse_what_they_cannot_use(emulator, path, payload):
    response = emulator.http.post(f"{emulator.admin_url}/{path}", json=payload)
    assert response.status_code == 400 and response.json()["error"]
    assert emulator.state()["settings"] == {"plan": "HOBBY", "clock_offset_seconds": 0.0, "deploy_seconds": None}


# ---- the time-based lifecycle ---------------------------------------------------------------


def statuses(emulator: EmulatorHandle, deployment_id: str, reads: int = 3) -> list[str]:
    return [read(emulator, deployment_id)["status"] for _ in range(reads)]


def test_a_timed_deployment_moves_with_the_clock_not_with_reads(emulator, client):
    app = App(emulator, client)
    first = app.release("ghcr.io/mvs-app/api:1.0.0", {})
    assert emulator.admin("lifecycle", {"deploy_seconds": 30}) == {"deploy_seconds": 30}
    app.configure("ghcr.io/mvs-app/api:2.0.0", {})
    second = app.deploy()
    assert statuses(emulator, second) == ["QUEUED"] * 3
    advance(emulator, seconds=11)
    assert statuses(emulator, second) == ["BUILDING"] * 3
    advance(emulator, seconds=10)
    assert statuses(emulator, second) == ["DEPLOYING"] * 3
    assert read(emulator, first)["status"] == "SUCCESS"  # still serving
    advance(emulator, seconds=10)
    assert app.newest()["status"] == "SUCCESS"  # any read sees where the clock is
    node = read(emulator, second)
    assert seconds_between(node["createdAt"], node["statusUpdatedAt"]) == 30  # when it was due
    removed = read(emulator, first)
    assert removed["status"] == "REMOVED" and removed["statusUpdatedAt"] == node["statusUpdatedAt"]
    messages = [line["message"] for line in emulator.state()["logs"][second]]
    assert messages == ["Pulling image ghcr.io/mvs-app/api:2.0.0", "Image ready", "Starting Container"]


def test_a_timed_deployment_that_is_never_read_still_ends(emulator, client):
    app = App(emulator, client)
    emulator.admin("lifecycle", {"deploy_seconds": 20})
    emulator.behaviour("api", "CRASHED")
    app.configure("ghcr.io/mvs-app/api:1.0.0", {})
    deployment = app.deploy()
    advance(emulator, seconds=25)
    assert emulator.state()["deployments"][deployment]["status"] == "CRASHED"


def test_a_rollback_follows_the_timed_lifecycle(emulator, client):
    app, first, second = removed_release(emulator, client)
    emulator.admin("lifecycle", {"deploy_seconds": 60})
    graphql(emulator, ROLLBACK, {"id": first})
    rolled = app.newest()["id"]
    assert statuses(emulator, rolled) == ["QUEUED"] * 3
    advance(emulator, seconds=45)
    assert statuses(emulator, rolled) == ["DEPLOYING"] * 3
    assert read(emulator, second)["status"] == "SUCCESS"
    advance(emulator, seconds=20)
    assert read(emulator, rolled)["status"] == "SUCCESS"
    assert read(emulator, second)["status"] == "REMOVED"


def test_a_timed_restart_ends_a_third_of_the_time_later(emulator, client):
    app = App(emulator, client)
    deployment = app.release("ghcr.io/mvs-app/api:1.0.0", {})
    emulator.admin("lifecycle", {"deploy_seconds": 30})
    emulator.data("deploymentRestart", {"id": deployment})
    assert statuses(emulator, deployment) == ["DEPLOYING"] * 3
    advance(emulator, seconds=11)
    assert read(emulator, deployment)["status"] == "SUCCESS"


def test_turning_the_timed_lifecycle_off_goes_back_to_one_step_per_read(emulator, client):
    app = App(emulator, client)
    emulator.admin("lifecycle", {"deploy_seconds": 600})
    app.configure("ghcr.io/mvs-app/api:1.0.0", {})
    deployment = app.deploy()
    assert statuses(emulator, deployment, 2) == ["QUEUED", "QUEUED"]
    emulator.admin("lifecycle", {"deploy_seconds": None})
    assert statuses(emulator, deployment, 4) == ["BUILDING", "DEPLOYING", "SUCCESS", "SUCCESS"]


def test_zero_seconds_ends_a_deployment_at_once(emulator, client):
    app = App(emulator, client)
    emulator.admin("lifecycle", {"deploy_seconds": 0})
    app.configure("ghcr.io/mvs-app/api:1.0.0", {})
    deployment = app.deploy()
    assert read(emulator, deployment)["status"] == "SUCCESS"
