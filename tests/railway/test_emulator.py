"""The emulator answers like Railway: raw HTTP against it, no RailwayClient in the assertions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from components.railway.client import RailwayClient
from components.railway.operations import operation
from tests.railway.conftest import (
    ACCOUNT_HEADERS,
    EmulatorHandle,
    create_environment,
    create_project,
    create_service,
    start_server,
)

ME = "query me { me { id } }"
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy")


def first_error(response: httpx.Response) -> dict:
    errors = response.json().get("errors") or []
    assert errors, response.text
    return errors[0]


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = first_error(response)
    assert error["extensions"]["code"] == code
    assert isinstance(error["extensions"].get("traceId"), str) and error["extensions"]["traceId"]
    return error


# ---- errors --------------------------------------------------------------------------------


def test_a_parse_error_is_400_graphql_parse_failed_with_a_trace_id(emulator: EmulatorHandle):
    assert_error(emulator.post("query { me { id "), 400, "GRAPHQL_PARSE_FAILED")


def test_an_unknown_field_is_400_graphql_validation_failed(emulator: EmulatorHandle):
    error = assert_error(emulator.post("query me { me { id noSuchField } }"), 400, "GRAPHQL_VALIDATION_FAILED")
    assert "noSuchField" in error["message"]


def test_a_variable_of_the_wrong_type_is_400_bad_user_input(emulator: EmulatorHandle):
    response = emulator.op("projectCreate", {"input": "not-an-object"})
    assert_error(response, 400, "BAD_USER_INPUT")
    assert emulator.state()["projects"] == {}


def test_a_missing_required_variable_is_400_bad_user_input(emulator: EmulatorHandle):
    assert_error(emulator.op("project", {}), 400, "BAD_USER_INPUT")


def test_no_token_is_200_not_authorized_with_null_data(emulator: EmulatorHandle):
    response = emulator.post(ME, headers={})
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert first_error(response)["message"] == "Not Authorized"


def test_a_wrong_token_is_200_not_authorized_with_null_data(emulator: EmulatorHandle):
    response = emulator.post(ME, headers={"Authorization": "Bearer not-a-real-token"})
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert first_error(response)["message"] == "Not Authorized"


def test_the_account_token_is_accepted(emulator: EmulatorHandle):
    response = emulator.post(ME)
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"id": "emulator-user"}}}


def test_an_unknown_id_is_200_with_type_not_found(emulator: EmulatorHandle):
    response = emulator.op("project", {"id": "00000000-0000-0000-0000-000000000000"})
    assert response.status_code == 200
    assert first_error(response)["message"] == "Project not found"


# ---- project tokens --------------------------------------------------------------------------


def test_a_project_token_works_for_its_project_only(emulator: EmulatorHandle, client: RailwayClient):
    mine, other = create_project(client, "mine"), create_project(client, "other")
    emulator.register_token("project-token-1", "project", mine.id, mine.production)
    as_project = {"Project-Access-Token": "project-token-1"}

    own = emulator.op("project", {"id": mine.id}, headers=as_project)
    assert own.status_code == 200 and not own.json().get("errors"), own.text
    assert own.json()["data"]["project"]["id"] == mine.id

    foreign = emulator.op("project", {"id": other.id}, headers=as_project)
    assert foreign.status_code == 200
    assert first_error(foreign)["message"] == "Not Authorized"

    token = emulator.op("projectToken", headers=as_project)
    assert token.json()["data"]["projectToken"] == {"projectId": mine.id, "environmentId": mine.production}


def test_a_project_token_sent_as_bearer_is_refused(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    emulator.register_token("project-token-2", "project", project.id, project.production)
    response = emulator.op("project", {"id": project.id}, headers={"Authorization": "Bearer project-token-2"})
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert first_error(response)["message"] == "Not Authorized"


def test_an_account_token_sent_as_project_access_token_is_refused(emulator: EmulatorHandle):
    response = emulator.post(ME, headers={"Project-Access-Token": "emulator-account-token"})
    assert first_error(response)["message"] == "Not Authorized"


def test_project_token_query_with_an_account_token_says_project_token_not_found(emulator: EmulatorHandle):
    assert first_error(emulator.op("projectToken"))["message"] == "Project Token not found"


def test_me_needs_an_account_token(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    emulator.register_token("project-token-3", "project", project.id, project.production)
    response = emulator.post(ME, headers={"Project-Access-Token": "project-token-3"})
    assert first_error(response)["message"] == "Not Authorized"


# ---- rate limit ----------------------------------------------------------------------------


def test_every_response_carries_the_rate_limit_headers(emulator: EmulatorHandle):
    responses = [
        emulator.post(ME),  # 200
        emulator.post("query { me { id "),  # 400 parse
        emulator.post("query me { me { nope } }"),  # 400 validation
        emulator.post(ME, headers={}),  # 200 Not Authorized
    ]
    for response in responses:
        for header in RATE_HEADERS:
            assert header in response.headers, (response.status_code, header)
        assert response.headers["X-RateLimit-Limit"].isdigit()
        assert response.headers["X-RateLimit-Remaining"].isdigit()
        assert response.headers["X-RateLimit-Reset"].isdigit()
    assert [r.status_code for r in responses] == [200, 400, 400, 200]
    assert "Retry-After" not in responses[0].headers


def test_the_request_after_the_window_is_spent_gets_429_with_retry_after(emulator: EmulatorHandle):
    emulator.rate_limit(3, 60)
    allowed = [emulator.post(ME) for _ in range(3)]
    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in allowed] == ["2", "1", "0"]
    assert allowed[0].headers["X-RateLimit-Limit"] == "3"
    assert allowed[0].headers["RateLimit-Policy"] == "3;w=60"

    refused = emulator.post(ME)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"].isdigit() and int(refused.headers["Retry-After"]) >= 1
    assert int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"


def test_the_rate_limit_is_per_token(emulator: EmulatorHandle):
    emulator.rate_limit(1, 60)
    assert emulator.post(ME).status_code == 200
    assert emulator.post(ME).status_code == 429
    other = emulator.post(ME, headers={"Authorization": "Bearer someone-else"})
    assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "0"


# ---- deployments ---------------------------------------------------------------------------


def deploy(emulator: EmulatorHandle, service_id: str, environment_id: str) -> str:
    data = emulator.data("serviceInstanceDeployV2", {"serviceId": service_id, "environmentId": environment_id})
    return data["serviceInstanceDeployV2"]


def status(emulator: EmulatorHandle, deployment_id: str) -> str:
    return emulator.data("deployment", {"id": deployment_id})["deployment"]["status"]


def poll(emulator: EmulatorHandle, deployment_id: str, reads: int) -> list[str]:
    return [status(emulator, deployment_id) for _ in range(reads)]


def deployments(emulator: EmulatorHandle, service_id: str, environment_id: str) -> list[dict]:
    data = emulator.data("deployments", {"input": {"serviceId": service_id, "environmentId": environment_id}})
    return [edge["node"] for edge in data["deployments"]["edges"]]


def test_a_deployment_moves_one_step_per_read_and_ends_in_success(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    deployment_id = deploy(emulator, service, project.production)
    # Before anyone reads it, the deployment is queued.
    assert [d["status"] for d in deployments(emulator, service, project.production)] == ["QUEUED"]
    assert poll(emulator, deployment_id, 6) == ["BUILDING", "DEPLOYING", "SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS"]
    node = emulator.data("deployment", {"id": deployment_id})["deployment"]
    assert node["serviceId"] == service and node["environmentId"] == project.production
    assert node["canRollback"] is True


def test_a_crashing_service_ends_crashed(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "worker")
    emulator.behaviour("worker", "CRASHED")
    deployment_id = deploy(emulator, service, project.production)
    assert poll(emulator, deployment_id, 4) == ["BUILDING", "DEPLOYING", "CRASHED", "CRASHED"]


def test_a_failing_health_check_ends_failed(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "web")
    emulator.behaviour("web", "FAILED")
    deployment_id = deploy(emulator, service, project.production)
    assert poll(emulator, deployment_id, 4) == ["BUILDING", "DEPLOYING", "FAILED", "FAILED"]
    assert emulator.data("deployment", {"id": deployment_id})["deployment"]["canRollback"] is False


def test_a_second_successful_deployment_removes_the_first(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    first = deploy(emulator, service, project.production)
    assert poll(emulator, first, 3)[-1] == "SUCCESS"
    second = deploy(emulator, service, project.production)
    assert status(emulator, first) == "SUCCESS"  # still serving while the second builds
    assert poll(emulator, second, 3)[-1] == "SUCCESS"
    assert status(emulator, first) == "REMOVED"
    assert status(emulator, second) == "SUCCESS"


def test_a_failed_deployment_does_not_remove_the_running_one(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    first = deploy(emulator, service, project.production)
    assert poll(emulator, first, 3)[-1] == "SUCCESS"
    emulator.behaviour("api", "CRASHED")
    second = deploy(emulator, service, project.production)
    assert poll(emulator, second, 3)[-1] == "CRASHED"
    assert status(emulator, first) == "SUCCESS"


def test_rolling_back_a_removed_deployment_starts_a_new_one(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    first = deploy(emulator, service, project.production)
    poll(emulator, first, 3)
    second = deploy(emulator, service, project.production)
    poll(emulator, second, 3)
    assert status(emulator, first) == "REMOVED"

    assert emulator.data("deploymentRollback", {"id": first}) == {"deploymentRollback": True}
    ids = [d["id"] for d in deployments(emulator, service, project.production)]
    assert len(ids) == 3
    (rollback,) = set(ids) - {first, second}
    assert poll(emulator, rollback, 3) == ["BUILDING", "DEPLOYING", "SUCCESS"]
    assert status(emulator, second) == "REMOVED"


def test_rolling_back_a_successful_deployment_starts_a_new_one(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    first = deploy(emulator, service, project.production)
    poll(emulator, first, 3)
    assert emulator.data("deploymentRollback", {"id": first}) == {"deploymentRollback": True}
    assert len(deployments(emulator, service, project.production)) == 2


def test_a_deployment_still_building_cannot_be_rolled_back(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    deployment_id = deploy(emulator, service, project.production)
    assert status(emulator, deployment_id) == "BUILDING"
    response = emulator.op("deploymentRollback", {"id": deployment_id})
    assert response.status_code == 200
    assert "cannot be rolled back" in first_error(response)["message"]
    assert len(deployments(emulator, service, project.production)) == 1


def test_creating_a_service_from_an_image_deploys_it(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    with_image = create_service(client, project.id, "api", image="ghcr.io/mvs/api:1.0.0")
    without = create_service(client, project.id, "empty")
    assert len(deployments(emulator, with_image, project.production)) == 1
    assert deployments(emulator, without, project.production) == []


# ---- variables -----------------------------------------------------------------------------


def upsert(emulator: EmulatorHandle, project, service_id: str, variables: dict, **extra) -> None:
    payload = {"projectId": project.id, "environmentId": project.production, "serviceId": service_id}
    emulator.data("variableCollectionUpsert", {"input": {**payload, "variables": variables, **extra}})


def test_upserting_variables_deploys_unless_skip_deploys(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    upsert(emulator, project, service, {"A": "1"}, skipDeploys=True)
    assert deployments(emulator, service, project.production) == []
    upsert(emulator, project, service, {"B": "2"})
    assert len(deployments(emulator, service, project.production)) == 1
    upsert(emulator, project, service, {"C": "3"}, skipDeploys=True)
    assert len(deployments(emulator, service, project.production)) == 1


def test_upsert_merges_and_replace_replaces(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    upsert(emulator, project, service, {"A": "1"}, skipDeploys=True)
    upsert(emulator, project, service, {"B": "2"}, skipDeploys=True)
    query = {"projectId": project.id, "environmentId": project.production, "serviceId": service}
    assert emulator.data("variables", query)["variables"] == {"A": "1", "B": "2"}
    upsert(emulator, project, service, {"C": "3"}, skipDeploys=True, replace=True)
    assert emulator.data("variables", query)["variables"] == {"C": "3"}


def test_references_render_unless_unrendered(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    backend = create_service(client, project.id, "backend")
    web = create_service(client, project.id, "web")
    upsert(emulator, project, backend, {"PORT": "8080"}, skipDeploys=True)
    upsert(emulator, project, web, {"API_URL": "http://backend:${{backend.PORT}}/v1"}, skipDeploys=True)
    query = {"projectId": project.id, "environmentId": project.production, "serviceId": web}

    raw = emulator.data("variables", {**query, "unrendered": True})["variables"]
    assert raw == {"API_URL": "http://backend:${{backend.PORT}}/v1"}
    rendered = emulator.data("variables", query)["variables"]
    assert rendered == {"API_URL": "http://backend:8080/v1"}


def test_references_render_from_the_service_in_the_same_project(emulator: EmulatorHandle, client: RailwayClient):
    # Two projects may each have a service called "backend"; a reference means the one beside it.
    other = create_project(client, "other")
    other_backend = create_service(client, other.id, "backend")
    upsert(emulator, other, other_backend, {"PORT": "1111"}, skipDeploys=True)

    project = create_project(client, "mine")
    backend = create_service(client, project.id, "backend")
    web = create_service(client, project.id, "web")
    upsert(emulator, project, backend, {"PORT": "2222"}, skipDeploys=True)
    upsert(emulator, project, web, {"API_URL": "http://backend:${{backend.PORT}}"}, skipDeploys=True)

    query = {"projectId": project.id, "environmentId": project.production, "serviceId": web}
    assert emulator.data("variables", query)["variables"] == {"API_URL": "http://backend:2222"}


# ---- services and instances ------------------------------------------------------------------


def instance(emulator: EmulatorHandle, service_id: str, environment_id: str) -> httpx.Response:
    return emulator.op("serviceInstance", {"serviceId": service_id, "environmentId": environment_id})


def test_a_service_has_one_instance_per_environment(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    staging = create_environment(client, project.id, "staging")
    service = create_service(client, project.id, "api")

    instances = [v for v in emulator.state()["instances"].values() if v["serviceId"] == service]
    assert sorted(i["environmentId"] for i in instances) == sorted([project.production, staging])
    for environment_id in (project.production, staging):
        node = instance(emulator, service, environment_id).json()["data"]["serviceInstance"]
        assert node["serviceId"] == service and node["environmentId"] == environment_id
        assert node["serviceName"] == "api"

    services = emulator.data("project", {"id": project.id})["project"]["services"]["edges"]
    assert [edge["node"]["id"] for edge in services] == [service]


def test_a_new_environment_gets_an_instance_of_every_service(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    staging = create_environment(client, project.id, "staging")
    assert not instance(emulator, service, staging).json().get("errors")


def test_deleting_a_service_in_one_environment_keeps_the_other(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    staging = create_environment(client, project.id, "staging")
    service = create_service(client, project.id, "api")

    assert emulator.data("serviceDelete", {"id": service, "environmentId": staging}) == {"serviceDelete": True}
    assert first_error(instance(emulator, service, staging))["message"] == "ServiceInstance not found"
    still = instance(emulator, service, project.production).json()
    assert not still.get("errors") and still["data"]["serviceInstance"]["serviceId"] == service
    assert emulator.data("service", {"id": service})["service"]["id"] == service

    assert emulator.data("serviceDelete", {"id": service}) == {"serviceDelete": True}
    assert first_error(emulator.op("service", {"id": service}))["message"] == "Service not found"
    assert first_error(instance(emulator, service, project.production))["message"] == "Service not found"
    assert service not in emulator.state()["services"]


# ---- scaling: region, numReplicas and multiRegionConfig tell one story -----------------------

EU, US_WEST, US_EAST = "europe-west4-drams3a", "us-west2", "us-east4-eqdc4a"


def scale(emulator: EmulatorHandle, service_id: str, environment_id: str, change: dict) -> httpx.Response:
    return emulator.op(
        "serviceInstanceUpdate", {"serviceId": service_id, "environmentId": environment_id, "input": change}
    )


def placement(emulator: EmulatorHandle, service_id: str, environment_id: str) -> tuple:
    """(region, numReplicas) of the instance, and the multiRegionConfig of the environment's config."""
    environment = emulator.data("environmentSnapshot", {"id": environment_id})["environment"]
    node = next(e["node"] for e in environment["serviceInstances"]["edges"] if e["node"]["serviceId"] == service_id)
    deploy = environment["config"]["services"][service_id]["deploy"]
    return node["region"], node["numReplicas"], deploy.get("multiRegionConfig")


def test_region_and_replicas_set_the_multi_region_config(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")

    assert scale(emulator, service, project.production, {"region": EU, "numReplicas": 2}).json()["data"]
    assert placement(emulator, service, project.production) == (EU, 2, {EU: {"numReplicas": 2}})
    scale(emulator, service, project.production, {"region": US_WEST})
    assert placement(emulator, service, project.production) == (US_WEST, 2, {US_WEST: {"numReplicas": 2}})
    scale(emulator, service, project.production, {"numReplicas": 3})
    assert placement(emulator, service, project.production) == (US_WEST, 3, {US_WEST: {"numReplicas": 3}})


def test_a_multi_region_config_sets_the_region_with_most_replicas_and_the_total(
    emulator: EmulatorHandle, client: RailwayClient
):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    scale(emulator, service, project.production, {"region": EU, "numReplicas": 1})

    config = {US_WEST: {"numReplicas": 1}, US_EAST: {"numReplicas": 3}, EU: {"numReplicas": 0}}
    scale(emulator, service, project.production, {"multiRegionConfig": config})
    expected = {US_WEST: {"numReplicas": 1}, US_EAST: {"numReplicas": 3}}
    assert placement(emulator, service, project.production) == (US_EAST, 4, expected)

    tie = {US_WEST: {"numReplicas": 2}, EU: {"numReplicas": 2}}
    scale(emulator, service, project.production, {"multiRegionConfig": tie})
    assert placement(emulator, service, project.production) == (EU, 4, tie), "a tie goes to the first region by name"


def test_the_multi_region_config_wins_over_the_single_region_fields(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")

    change = {"region": EU, "numReplicas": 9, "multiRegionConfig": {US_WEST: {"numReplicas": 2}}}
    scale(emulator, service, project.production, change)

    assert placement(emulator, service, project.production) == (US_WEST, 2, {US_WEST: {"numReplicas": 2}})


def test_a_whole_number_is_a_replica_count_however_json_spells_it(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")

    scale(emulator, service, project.production, {"multiRegionConfig": {EU: {"numReplicas": 2.0}}})

    assert placement(emulator, service, project.production) == (EU, 2, {EU: {"numReplicas": 2}})


def test_no_region_means_the_default_region_without_a_config(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    scale(emulator, service, project.production, {"region": EU, "numReplicas": 2})

    scale(emulator, service, project.production, {"region": None, "numReplicas": 1})

    assert placement(emulator, service, project.production) == (None, 1, None)


def test_a_multi_region_config_placing_nothing_is_refused_and_changes_nothing(
    emulator: EmulatorHandle, client: RailwayClient
):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    scale(emulator, service, project.production, {"region": EU, "numReplicas": 2})

    for config in ({EU: {"numReplicas": 0}}, {EU: {"numReplicas": "two"}}, ["europe"]):
        error = assert_error(
            scale(emulator, service, project.production, {"multiRegionConfig": config}), 200, "BAD_USER_INPUT"
        )
        assert "multiRegionConfig" in error["message"]

    assert placement(emulator, service, project.production) == (EU, 2, {EU: {"numReplicas": 2}})


def test_an_environment_patch_scales_like_railway_scale(emulator: EmulatorHandle, client: RailwayClient):
    """`railway scale` commits services.<id>.deploy.multiRegionConfig through environmentPatchCommit."""
    project = create_project(client)
    service = create_service(client, project.id, "api")
    other = create_service(client, project.id, "worker")
    scale(emulator, service, project.production, {"region": EU, "numReplicas": 1})

    config = {EU: {"numReplicas": 1}, US_EAST: {"numReplicas": 2}}
    patch = {"services": {service: {"deploy": {"multiRegionConfig": config}}}}
    emulator.data("environmentPatchCommit", {"environmentId": project.production, "patch": patch})

    assert placement(emulator, service, project.production) == (US_EAST, 3, config)
    assert placement(emulator, other, project.production) == (None, 1, None), "the other service is untouched"


def test_environment_names_are_unique_in_a_project(emulator: EmulatorHandle, client: RailwayClient):
    project = create_project(client)
    response = emulator.op("environmentCreate", {"input": {"projectId": project.id, "name": "production"}})
    assert "already exists" in first_error(response)["message"]


# ---- request log ---------------------------------------------------------------------------


def test_one_log_line_per_graphql_request(emulator: EmulatorHandle, request_log):
    emulator.post(ME, operation_name="me")
    emulator.post("query { me { id ")
    emulator.op("project", {"id": "missing"})
    emulator.post(ME, headers={})
    emulator.admin("faults", {"rules": []})  # admin calls are not logged
    entries = request_log()
    assert len(entries) == 4
    assert [e["status"] for e in entries] == [200, 400, 200, 200]
    assert [e["operation"] for e in entries] == ["me", None, "project", "me"]
    for entry in entries:
        assert isinstance(entry["ms"], int | float) and entry["ms"] >= 0
    assert entries[1]["errors"] == ["GRAPHQL_PARSE_FAILED"]


def test_the_log_redacts_variable_values_and_secret_fields(
    emulator: EmulatorHandle, client: RailwayClient, request_log
):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    secrets = ["s3cret-variable-value", "s3cret-password", "s3cret-value", "s3cret-token", "s3cret-created"]

    upsert(emulator, project, service, {"DATABASE_URL": secrets[0]}, skipDeploys=True)
    created = emulator.op(
        "serviceCreate",
        {
            "input": {
                "projectId": project.id,
                "name": "private",
                "source": {"image": "registry.example/private:1"},
                "registryCredentials": {"username": "bot", "password": secrets[1]},
                "variables": {"API_KEY": secrets[4]},
            }
        },
    )
    assert created.status_code == 200
    # variableUpsert is in Railway's schema (value: String!) even if the emulator does not implement it.
    emulator.post(
        "mutation variableUpsert($input: VariableUpsertInput!) { variableUpsert(input: $input) }",
        {"input": {"projectId": project.id, "environmentId": project.production, "name": "X", "value": secrets[2]}},
        operation_name="variableUpsert",
    )
    emulator.post(ME, {"token": secrets[3]}, operation_name="me")

    text = emulator.log_path.read_text()
    for secret in secrets:
        assert secret not in text
    upserts = request_log("variableCollectionUpsert")
    assert upserts[-1]["variables"]["input"]["variables"] == {"DATABASE_URL": "[redacted]"}
    assert upserts[-1]["variables"]["input"]["projectId"] == project.id  # ids are kept
    create = request_log("serviceCreate")[-1]["variables"]["input"]
    assert create["registryCredentials"] == {"username": "bot", "password": "[redacted]"}
    assert create["variables"] == {"API_KEY": "[redacted]"}
    assert request_log("variableUpsert")[-1]["variables"]["input"]["value"] == "[redacted]"
    assert request_log("me")[-1]["variables"] == {"token": "[redacted]"}


def test_the_log_redacts_a_variables_map_bound_to_any_variable_name(emulator: EmulatorHandle, client: RailwayClient):
    # The map is an EnvironmentVariables value whatever the client calls its GraphQL variable.
    project = create_project(client)
    service = create_service(client, project.id, "api")
    document = (
        "mutation setVars($projectId: String!, $environmentId: String!, $serviceId: String, "
        "$vars: EnvironmentVariables!) { variableCollectionUpsert(input: {projectId: $projectId, "
        "environmentId: $environmentId, serviceId: $serviceId, variables: $vars, skipDeploys: true}) }"
    )
    ids = {"projectId": project.id, "environmentId": project.production, "serviceId": service}
    response = emulator.post(document, {**ids, "vars": {"DATABASE_URL": "postgres://u:s3cret-pw@db/x"}})
    assert response.status_code == 200 and not response.json().get("errors"), response.text
    assert "s3cret-pw" not in emulator.log_path.read_text()


# ---- persistence and the dashboard -------------------------------------------------------------


def test_a_second_emulator_on_the_same_state_file_sees_the_project(
    emulator: EmulatorHandle, client: RailwayClient, tmp_path: Path
):
    project = create_project(client, "persisted")
    create_service(client, project.id, "api")
    second = start_server(tmp_path / "second.jsonl", emulator.state_path)
    try:
        response = httpx.post(
            second.url,
            json={"query": operation("project").document, "variables": {"id": project.id}},
            headers=ACCOUNT_HEADERS,
        )
    finally:
        second.stop()
    body = response.json()
    assert not body.get("errors"), body
    assert body["data"]["project"]["name"] == "persisted"
    assert [e["node"]["name"] for e in body["data"]["project"]["services"]["edges"]] == ["api"]


def test_a_fresh_emulator_without_the_state_file_knows_nothing(emulator: EmulatorHandle, tmp_path: Path):
    second = start_server(tmp_path / "second.jsonl", tmp_path / "other-state.json")
    try:
        response = httpx.post(
            second.url, json={"query": operation("project").document, "variables": {"id": "x"}}, headers=ACCOUNT_HEADERS
        )
    finally:
        second.stop()
    assert response.json()["errors"][0]["message"] == "Project not found"


def test_the_dashboard_changes_state_outside_the_log_and_the_rate_limit(
    emulator: EmulatorHandle, client: RailwayClient, request_log
):
    project = create_project(client)
    service = create_service(client, project.id, "api")
    emulator.rate_limit(10, 3600)
    assert emulator.post(ME).headers["X-RateLimit-Remaining"] == "9"
    lines = len(request_log())

    for _ in range(3):
        result = emulator.dashboard(
            operation("serviceInstanceUpdate").document,
            {"serviceId": service, "environmentId": project.production, "input": {"numReplicas": 4}},
        )
        assert result == {"data": {"serviceInstanceUpdate": True}, "errors": []}
    result = emulator.dashboard(
        operation("variableCollectionUpsert").document,
        {
            "input": {
                "projectId": project.id,
                "environmentId": project.production,
                "serviceId": service,
                "variables": {"FROM_DASHBOARD": "yes"},
                "skipDeploys": True,
            }
        },
    )
    assert result["errors"] == []

    assert len(request_log()) == lines
    assert emulator.post(ME).headers["X-RateLimit-Remaining"] == "8"
    node = instance(emulator, service, project.production).json()["data"]["serviceInstance"]
    assert node["numReplicas"] == 4
    query = {"projectId": project.id, "environmentId": project.production, "serviceId": service}
    assert emulator.data("variables", query)["variables"] == {"FROM_DASHBOARD": "yes"}


def test_reset_empties_the_model(emulator: EmulatorHandle, client: RailwayClient):
    create_project(client)
    assert emulator.state()["projects"]
    emulator.admin("reset")
    assert emulator.state()["projects"] == {}


def test_latency_on_the_way_in_runs_the_request_late_and_on_the_way_out_answers_late(
    emulator: EmulatorHandle, client: RailwayClient
):
    """`phase: request` holds a request before the model sees it (its deployment is created late);
    the default holds the answer of a request already run (its deployment is created at once)."""
    project = create_project(client)
    service = create_service(client, project.id, "api")
    created = {}
    for phase in ("request", "response"):
        emulator.faults(
            {"kind": "latency", "latency_ms": 1200, "phase": phase, "operations": ["serviceInstanceDeployV2"]}
        )
        sent = datetime.now(UTC)
        deployment_id = deploy(emulator, service, project.production)
        node = emulator.data("deployment", {"id": deployment_id})["deployment"]
        created[phase] = datetime.fromisoformat(node["createdAt"].replace("Z", "+00:00")) - sent
    assert created["request"] >= timedelta(seconds=1.2)
    assert created["response"] < timedelta(seconds=1.2)
    refused = httpx.post(f"{emulator.admin_url}/faults", json={"rules": [{"kind": "latency", "phase": "sideways"}]})
    assert refused.status_code == 400 and "phase" in refused.text
