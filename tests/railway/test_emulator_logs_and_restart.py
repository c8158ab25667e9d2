"""The emulator serves deploymentLogs, deploymentRestart and an environment's service instances as
Railway's schema defines them: raw HTTP against it, no reader or waiter in the assertions."""

from __future__ import annotations

import httpx
import pytest

from components.railway.client import RailwayClient
from tests.railway.conftest import EmulatorHandle, create_project, create_service

LOGS = "query($d: String!, $l: Int, $s: DateTime, $e: DateTime, $f: String) { deploymentLogs(deploymentId: $d, limit: $l, startDate: $s, endDate: $e, filter: $f) { timestamp message severity attributes { key value } tags { deploymentId serviceId environmentId } } }"  # noqa: E501
BUILD_LOGS = "query($d: String!) { buildLogs(deploymentId: $d) { message } }"


def running(emulator: EmulatorHandle, client: RailwayClient, name: str = "api", healthcheck: str | None = None):
    """A service with an image, deployed and read until SUCCESS: (project, service id, deployment id)."""
    project = create_project(client)
    service = create_service(client, project.id, name)
    settings = {"source": {"image": f"ghcr.io/mvs-app/{name}:2.0.0"}, "healthcheckPath": healthcheck}
    client.execute(
        "serviceInstanceUpdate", {"serviceId": service, "environmentId": project.production, "input": settings}
    )
    scope = {"serviceId": service, "environmentId": project.production}
    deployment = client.execute("serviceInstanceDeployV2", scope)["serviceInstanceDeployV2"]
    for _ in range(3):
        status(emulator, deployment)
    assert status(emulator, deployment) == "SUCCESS"
    return project, service, deployment


def status(emulator: EmulatorHandle, deployment_id: str) -> str:
    return emulator.data("deployment", {"id": deployment_id})["deployment"]["status"]


def logs(emulator: EmulatorHandle, deployment_id: str, **arguments) -> list[dict]:
    names = {"limit": "l", "startDate": "s", "endDate": "e", "filter": "f"}
    response = emulator.post(LOGS, {"d": deployment_id, **{names[k]: v for k, v in arguments.items()}})
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]["deploymentLogs"]


def messages(lines: list[dict]) -> list[str]:
    return [line["message"] for line in lines]


def app_output(emulator: EmulatorHandle, deployment_id: str, *lines) -> list[str]:
    return emulator.admin("logs", {"deploymentId": deployment_id, "lines": list(lines)})["timestamps"]


# ---- deploymentLogs ---------------------------------------------------------------------------


def test_a_deployment_logs_its_lifecycle_and_the_app_output_added_through_the_admin_api(emulator, client):
    project, service, deployment = running(emulator, client)
    app_output(emulator, deployment, "listening on :3000", {"message": "db timeout", "severity": "error"})
    lines = logs(emulator, deployment)
    assert messages(lines) == ["Starting Container", "listening on :3000", "db timeout"]
    assert [line["severity"] for line in lines] == ["info", "info", "error"]
    assert lines[0]["tags"] == {"deploymentId": deployment, "serviceId": service, "environmentId": project.production}
    assert lines[0]["attributes"] == []
    timestamps = [line["timestamp"] for line in lines]
    assert timestamps == sorted(timestamps) and len(set(timestamps)) == 3, "strictly increasing"
    assert all(len(t) == len("2026-01-01T00:00:00.000000000Z") and t.endswith("Z") for t in timestamps)


def test_the_build_log_is_its_own_stream(emulator, client):
    _, _, deployment = running(emulator, client, healthcheck="/health")
    response = emulator.post(BUILD_LOGS, {"d": deployment})
    assert messages(response.json()["data"]["buildLogs"]) == [
        "Pulling image ghcr.io/mvs-app/api:2.0.0",
        "Image ready",
        "Starting Healthcheck (path: /health)",
        "[1/1] Healthcheck succeeded!",
    ]
    assert "Image ready" not in messages(logs(emulator, deployment))


def test_limit_keeps_the_newest_lines_oldest_first_and_defaults_to_100(emulator, client):
    _, _, deployment = running(emulator, client)
    app_output(emulator, deployment, *[f"line {n}" for n in range(150)])
    assert messages(logs(emulator, deployment, limit=3)) == ["line 147", "line 148", "line 149"]
    default = logs(emulator, deployment)
    assert len(default) == 100 and default[-1]["message"] == "line 149"
    assert logs(emulator, deployment, limit=0) == []


def test_start_date_is_inclusive_and_pages_forward_from_it(emulator, client):
    _, _, deployment = running(emulator, client)
    stamps = app_output(emulator, deployment, "a", "b", "c", "d")
    assert messages(logs(emulator, deployment, startDate=stamps[1])) == ["b", "c", "d"]
    assert messages(logs(emulator, deployment, startDate=stamps[1], limit=2)) == ["b", "c"], "the oldest after it"
    assert messages(logs(emulator, deployment, startDate=stamps[1], endDate=stamps[2])) == ["b", "c"]
    assert messages(logs(emulator, deployment, endDate=stamps[0])) == ["Starting Container", "a"]


def test_a_start_date_with_an_offset_or_less_precision_means_the_same_moment(emulator, client):
    _, _, deployment = running(emulator, client)
    (stamp,) = app_output(emulator, deployment, "late")
    whole_second = stamp[:19] + "+00:00"  # before the line, by the fraction of a second
    assert "late" in messages(logs(emulator, deployment, startDate=whole_second))
    assert logs(emulator, deployment, startDate="2999-01-01T00:00:00Z") == []


def test_filter_matches_words_phrases_exclusions_and_level(emulator, client):
    _, _, deployment = running(emulator, client)
    app_output(
        emulator,
        deployment,
        "GET /health 200",
        "GET /orders 500",
        {"message": "payment failed: card declined", "severity": "error"},
    )
    assert messages(logs(emulator, deployment, filter="get")) == ["GET /health 200", "GET /orders 500"]
    assert messages(logs(emulator, deployment, filter="GET -health")) == ["GET /orders 500"]
    assert messages(logs(emulator, deployment, filter='"card declined"')) == ["payment failed: card declined"]
    assert messages(logs(emulator, deployment, filter="@level:error")) == ["payment failed: card declined"]
    assert len(logs(emulator, deployment, filter="")) == 4, "an empty filter matches every line"


def test_bad_log_arguments_are_refused_like_railway_refuses_them(emulator, client):
    _, _, deployment = running(emulator, client)
    not_a_date = emulator.post(LOGS, {"d": deployment, "s": "yesterday"}).json()
    assert not_a_date["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    wrong_type = emulator.post(LOGS, {"d": deployment, "l": "ten"})
    assert wrong_type.status_code == 400 and wrong_type.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    unknown_field = emulator.post("query($d: String!) { deploymentLogs(deploymentId: $d) { level } }", {"d": "x"})
    assert unknown_field.status_code == 400
    assert unknown_field.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    missing = emulator.post(LOGS, {"d": "no-such-deployment"}).json()
    assert missing["errors"][0]["message"] == "Deployment not found"


def test_a_project_token_reads_only_its_own_projects_logs(emulator, client):
    _, _, deployment = running(emulator, client)
    other = create_project(client, "other")
    emulator.register_token("other-project-token", "project", other.id, other.production)
    body = emulator.post(LOGS, {"d": deployment}, headers={"Project-Access-Token": "other-project-token"}).json()
    assert body["errors"][0]["message"] == "Not Authorized"


def test_the_admin_api_finds_a_service_latest_deployment_by_name(emulator, client):
    _, _, deployment = running(emulator, client, name="worker")
    written = emulator.admin("logs", {"service": "worker", "lines": ["tick"]})
    assert written["deploymentId"] == deployment
    assert messages(logs(emulator, deployment))[-1] == "tick"
    response = httpx.post(f"{emulator.admin_url}/logs", json={"service": "nobody", "lines": ["x"]})
    assert response.status_code == 404


# ---- deploymentRestart ------------------------------------------------------------------------


def deployment_instances(emulator: EmulatorHandle, deployment_id: str) -> tuple[str, list[str]]:
    node = emulator.data("deploymentInstances", {"id": deployment_id})["deployment"]
    return node["status"], [instance["status"] for instance in node["instances"]]


def test_a_restart_keeps_the_deployment_and_goes_back_through_deploying_to_success(emulator, client):
    _, _, deployment = running(emulator, client)
    assert deployment_instances(emulator, deployment) == ("SUCCESS", ["RUNNING"])
    assert emulator.data("deploymentRestart", {"id": deployment}) == {"deploymentRestart": True}
    state = emulator.state()
    assert state["deployments"][deployment]["status"] == "DEPLOYING", "restarting until read"
    assert len(state["deployments"]) == 1, "a restart makes no new deployment"
    assert deployment_instances(emulator, deployment) == ("SUCCESS", ["RUNNING"])
    assert messages(logs(emulator, deployment)) == [
        "Starting Container",
        "Stopping Container",
        "Starting Container",
    ]


def test_while_it_restarts_its_instances_say_restarting(emulator, client):
    _, _, deployment = running(emulator, client)
    emulator.data("deploymentRestart", {"id": deployment})
    listed = emulator.data("deployments", {"input": {"environmentId": emulator_env(emulator, deployment)}})
    # `deployments` does not advance the lifecycle: it shows the deployment mid-restart.
    (node,) = [edge["node"] for edge in listed["deployments"]["edges"]]
    assert node["status"] == "DEPLOYING"
    view = emulator.post(
        "query($e: String!) { deployments(input: {environmentId: $e}) { edges { node { instances { status } } } } }",
        {"e": emulator_env(emulator, deployment)},
    ).json()
    assert view["data"]["deployments"]["edges"][0]["node"]["instances"] == [{"status": "RESTARTING"}]


def emulator_env(emulator: EmulatorHandle, deployment_id: str) -> str:
    return emulator.state()["deployments"][deployment_id]["environmentId"]


def test_the_restart_outcome_behaviour_makes_a_restart_crash(emulator, client):
    _, _, deployment = running(emulator, client, name="backend")
    emulator.admin("behaviour", {"service": "backend", "restart_outcome": "CRASHED"})
    emulator.data("deploymentRestart", {"id": deployment})
    assert deployment_instances(emulator, deployment) == ("CRASHED", ["CRASHED"])
    assert messages(logs(emulator, deployment, filter="@level:error")) == ["The process exited with code 1"]
    # A crashed deployment may be restarted again; once the cause is gone it comes back.
    emulator.admin("behaviour", {"service": "backend", "restart_outcome": "SUCCESS"})
    emulator.data("deploymentRestart", {"id": deployment})
    assert deployment_instances(emulator, deployment) == ("SUCCESS", ["RUNNING"])


@pytest.mark.parametrize("reads", [0, 1], ids=["queued", "building"])
def test_a_deployment_that_never_ran_cannot_be_restarted(emulator, client, reads):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    scope = {"serviceId": service, "environmentId": project.production}
    deployment = client.execute("serviceInstanceDeployV2", scope)["serviceInstanceDeployV2"]
    for _ in range(reads):
        status(emulator, deployment)
    body = emulator.op("deploymentRestart", {"id": deployment}).json()
    assert body["errors"][0]["message"].startswith("Cannot restart a deployment that is ")
    assert emulator.op("deploymentRestart", {"id": "no-such"}).json()["errors"][0]["message"] == "Deployment not found"


def test_a_restart_is_validated_against_the_schema(emulator):
    response = emulator.post("mutation { deploymentRestart(id: 42) }")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


# ---- an environment's service instances -------------------------------------------------------


def test_an_environment_lists_its_service_instances_with_deployment_and_domains(emulator, client):
    project, service, deployment = running(emulator, client, healthcheck="/health")
    client.execute(
        "serviceDomainCreate", {"input": {"serviceId": service, "environmentId": project.production, "targetPort": 80}}
    )
    environment = emulator.data("environmentServices", {"id": project.production})["environment"]
    (node,) = [edge["node"] for edge in environment["serviceInstances"]["edges"]]
    assert node["serviceId"] == service and node["serviceName"] == "api"
    assert node["source"] == {"image": "ghcr.io/mvs-app/api:2.0.0"}
    assert node["healthcheckPath"] == "/health"
    assert node["latestDeployment"]["id"] == deployment and node["latestDeployment"]["status"] == "SUCCESS"
    assert node["latestDeployment"]["meta"]["image"] == "ghcr.io/mvs-app/api:2.0.0"
    (domain,) = node["domains"]["serviceDomains"]
    assert domain["domain"].endswith(".up.railway.app")
    assert node["domains"]["customDomains"] == []
