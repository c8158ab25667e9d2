"""RailwayClient against the emulator: CRUD, error mapping, and when it retries and when it must not."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import pytest

from components.errors import (
    RailwayError,
    RailwayNotAuthorized,
    RailwayNotFound,
    RailwayOutcomeUnknown,
    RailwayRateLimited,
    RailwayRequestInvalid,
    RailwayTokenMissing,
    RailwayUnavailable,
)
from components.railway.client import RailwayClient, RailwayToken, Unreachable
from tests.railway.conftest import (
    ACCOUNT_TOKEN,
    MAX_ATTEMPTS,
    EmulatorHandle,
    Project,
    create_environment,
    create_project,
    create_service,
)

MakeClient = Callable[..., RailwayClient]
IMAGE = "ghcr.io/mvs/api:1.2.3"


def services_named(emulator: EmulatorHandle, name: str) -> list[dict]:
    return [s for s in emulator.state()["services"].values() if s["name"] == name]


def read_instance(client: RailwayClient, service_id: str, environment_id: str) -> dict:
    variables = {"serviceId": service_id, "environmentId": environment_id}
    return client.execute("serviceInstance", variables)["serviceInstance"]


@pytest.fixture
def project(client: RailwayClient) -> Project:
    return create_project(client)


# ---- CRUD ----------------------------------------------------------------------------------


def test_create_read_update_delete(client: RailwayClient, emulator: EmulatorHandle, sleeps: list[float]):
    created = client.execute("projectCreate", {"input": {"name": "mvs-staging", "description": "MVS"}})
    project_id = created["projectCreate"]["id"]
    project = client.execute("project", {"id": project_id})["project"]
    assert project["name"] == "mvs-staging" and project["description"] == "MVS"
    assert [e["node"]["name"] for e in project["environments"]["edges"]] == ["production"]
    production = project["environments"]["edges"][0]["node"]["id"]

    staging = client.execute("environmentCreate", {"input": {"projectId": project_id, "name": "staging"}})
    staging_id = staging["environmentCreate"]["id"]
    environment = client.execute("environment", {"id": staging_id})["environment"]
    assert environment == {"id": staging_id, "name": "staging", "projectId": project_id, "isEphemeral": False}
    listed = client.execute("environments", {"projectId": project_id})["environments"]["edges"]
    assert sorted(e["node"]["name"] for e in listed) == ["production", "staging"]

    service = client.execute(
        "serviceCreate", {"input": {"projectId": project_id, "name": "api", "source": {"image": IMAGE}}}
    )["serviceCreate"]
    assert service["name"] == "api" and service["projectId"] == project_id
    service_id = service["id"]

    settings = {
        "healthcheckPath": "/healthz",
        "restartPolicyType": "ON_FAILURE",
        "restartPolicyMaxRetries": 3,
        "numReplicas": 2,
        "region": "europe-west4-drams3a",
    }
    updated = client.execute(
        "serviceInstanceUpdate", {"serviceId": service_id, "environmentId": staging_id, "input": settings}
    )
    assert updated == {"serviceInstanceUpdate": True}
    instance = read_instance(client, service_id, staging_id)
    assert {key: instance[key] for key in settings} == settings
    assert instance["source"] == {"image": IMAGE, "repo": None}
    assert instance["serviceName"] == "api"
    assert instance["latestDeployment"]["status"] == "QUEUED"
    untouched = read_instance(client, service_id, production)
    assert untouched["numReplicas"] == 1 and untouched["healthcheckPath"] is None

    ids = {"projectId": project_id, "environmentId": staging_id, "serviceId": service_id}
    upserted = client.execute(
        "variableCollectionUpsert", {"input": {**ids, "variables": {"PORT": "8080", "MODE": "staging"}}}
    )
    assert upserted == {"variableCollectionUpsert": True}
    assert client.execute("variables", ids)["variables"] == {"PORT": "8080", "MODE": "staging"}
    assert client.execute("variableDelete", {"input": {**ids, "name": "MODE"}}) == {"variableDelete": True}
    assert client.execute("variables", ids)["variables"] == {"PORT": "8080"}

    renamed = client.execute("serviceUpdate", {"id": service_id, "input": {"name": "api-v2"}})["serviceUpdate"]
    assert renamed == {"id": service_id, "name": "api-v2"}
    assert client.execute("serviceDelete", {"id": service_id}) == {"serviceDelete": True}
    with pytest.raises(RailwayNotFound, match="Service not found"):
        client.execute("service", {"id": service_id})

    assert client.execute("projectDelete", {"id": project_id}) == {"projectDelete": True}
    with pytest.raises(RailwayNotFound) as raised:
        client.execute("project", {"id": project_id})
    assert raised.value.operation == "project" and raised.value.status == 200
    assert emulator.state()["environments"] == {}
    assert sleeps == []  # nothing was retried


def test_deleting_a_missing_variable_is_not_found(client: RailwayClient, project: Project):
    ids = {"projectId": project.id, "environmentId": project.production}
    with pytest.raises(RailwayNotFound, match="Variable not found"):
        client.execute("variableDelete", {"input": {**ids, "name": "NOPE"}})


def test_an_unknown_project_id_raises_not_found(client: RailwayClient):
    with pytest.raises(RailwayNotFound, match="Project not found"):
        client.execute("project", {"id": "4b2c1f04-0000-4000-8000-000000000000"})


def test_deploy_and_poll_through_the_client(client: RailwayClient, project: Project):
    service = create_service(client, project.id, "api")
    variables = {"serviceId": service, "environmentId": project.production}
    deployment_id = client.execute("serviceInstanceDeployV2", variables)["serviceInstanceDeployV2"]
    seen = [client.execute("deployment", {"id": deployment_id})["deployment"]["status"] for _ in range(4)]
    assert seen == ["BUILDING", "DEPLOYING", "SUCCESS", "SUCCESS"]


# ---- tokens --------------------------------------------------------------------------------


def test_a_wrong_token_raises_not_authorized_naming_the_variable(make_client: MakeClient):
    client = make_client(RailwayToken("wrong-token-do-not-leak"))
    with pytest.raises(RailwayNotAuthorized) as raised:
        client.execute("me")
    message = str(raised.value)
    assert "RAILWAY_API_TOKEN" in message and "Not Authorized" in message
    assert "wrong-token-do-not-leak" not in message and "wrong-token-do-not-leak" not in repr(raised.value)


def test_from_env_without_a_token_names_both_variables():
    with pytest.raises(RailwayTokenMissing) as raised:
        RailwayToken.from_env({"RAILWAY_API_TOKEN": "", "HOME": "/root"})
    assert "RAILWAY_API_TOKEN" in str(raised.value) and "RAILWAY_TOKEN" in str(raised.value)


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("RAILWAY_API_TOKEN", raising=False)
    monkeypatch.delenv("RAILWAY_TOKEN", raising=False)
    with pytest.raises(RailwayTokenMissing):
        RailwayToken.from_env()
    monkeypatch.setenv("RAILWAY_TOKEN", "from-os-environ")
    assert RailwayToken.from_env() == RailwayToken("from-os-environ", "project")


def test_railway_api_token_is_an_account_token_sent_as_bearer():
    token = RailwayToken.from_env({"RAILWAY_API_TOKEN": "acct-123"})
    assert token.kind == "account"
    assert token.headers() == {"Authorization": "Bearer acct-123"}


def test_railway_token_is_a_project_token_sent_as_project_access_token():
    token = RailwayToken.from_env({"RAILWAY_TOKEN": "proj-456"})
    assert token.kind == "project"
    assert token.headers() == {"Project-Access-Token": "proj-456"}


def test_the_account_token_wins_when_both_are_set():
    token = RailwayToken.from_env({"RAILWAY_API_TOKEN": "acct", "RAILWAY_TOKEN": "proj"})
    assert token == RailwayToken("acct", "account")


def test_a_token_repr_hides_its_value():
    for token in (RailwayToken("very-secret-value"), RailwayToken("very-secret-value", "project")):
        assert "very-secret-value" not in repr(token)
        assert "very-secret-value" not in str(token)
        assert token.kind in repr(token)


def test_the_client_sends_each_kind_of_token_the_way_railway_expects(
    emulator: EmulatorHandle, client: RailwayClient, make_client: MakeClient, project: Project
):
    emulator.register_token("proj-token-from-env", "project", project.id, project.production)
    as_project = make_client(RailwayToken.from_env({"RAILWAY_TOKEN": "proj-token-from-env"}))
    token = as_project.execute("projectToken")["projectToken"]
    assert token == {"projectId": project.id, "environmentId": project.production}
    assert as_project.execute("project", {"id": project.id})["project"]["id"] == project.id
    with pytest.raises(RailwayNotAuthorized):
        as_project.execute("me")

    as_account = make_client(RailwayToken.from_env({"RAILWAY_API_TOKEN": ACCOUNT_TOKEN}))
    assert as_account.execute("me")["me"]["id"] == "emulator-user"
    with pytest.raises(RailwayNotAuthorized, match="Project Token not found"):
        as_account.execute("projectToken")


def test_a_project_token_may_not_touch_another_project(
    emulator: EmulatorHandle, client: RailwayClient, make_client: MakeClient, project: Project
):
    other = create_project(client, "other")
    emulator.register_token("proj-token-scoped", "project", project.id, project.production)
    scoped = make_client(RailwayToken("proj-token-scoped", "project"))
    with pytest.raises(RailwayNotAuthorized):
        scoped.execute("project", {"id": other.id})


# ---- 429 -----------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(
    emulator: EmulatorHandle, client: RailwayClient, sleeps: list[float], request_log, project: Project
):
    emulator.rate_limit(50, 3600)
    emulator.faults({"kind": "rate_limit", "retry_after": 7, "count": 2, "operations": ["project"]})
    assert client.execute("project", {"id": project.id})["project"]["id"] == project.id
    assert sleeps == [7, 7]
    assert [e["status"] for e in request_log("project")] == [429, 429, 200]
    assert client.rate_limit.limit == 50
    assert client.rate_limit.remaining == 47  # three requests counted in this window
    assert isinstance(client.rate_limit.reset_epoch, int) and client.rate_limit.reset_epoch > 0


def test_429_on_a_write_is_retried_because_it_was_not_executed(
    emulator: EmulatorHandle, client: RailwayClient, sleeps: list[float], project: Project
):
    emulator.faults({"kind": "rate_limit", "retry_after": 3, "count": 1, "operations": ["serviceCreate"]})
    create_service(client, project.id, "worker")
    assert sleeps == [3]
    assert len(services_named(emulator, "worker")) == 1


def test_retry_after_is_capped_by_the_policy(
    emulator: EmulatorHandle, make_client: MakeClient, sleeps: list[float], project: Project
):
    client = make_client()
    client.retry.max_retry_after = 30
    emulator.faults({"kind": "rate_limit", "retry_after": 500, "count": 1})
    client.execute("project", {"id": project.id})
    assert sleeps == [30]


def test_429_on_every_attempt_raises_rate_limited(
    emulator: EmulatorHandle, client: RailwayClient, sleeps: list[float], request_log
):
    emulator.faults({"kind": "rate_limit", "retry_after": 5})
    with pytest.raises(RailwayRateLimited) as raised:
        client.execute("me")
    assert raised.value.status == 429 and raised.value.operation == "me"
    assert sleeps == [5] * (MAX_ATTEMPTS - 1)
    assert len(request_log("me")) == MAX_ATTEMPTS


def test_the_real_window_running_out_raises_rate_limited(
    emulator: EmulatorHandle, client: RailwayClient, sleeps: list[float]
):
    emulator.rate_limit(1, 600)
    client.execute("me")
    with pytest.raises(RailwayRateLimited):
        client.execute("me")
    assert len(sleeps) == MAX_ATTEMPTS - 1
    assert all(1 <= wait <= 600 for wait in sleeps)
    assert client.rate_limit.remaining == 0 and client.rate_limit.limit == 1


# ---- 5xx -----------------------------------------------------------------------------------


def test_5xx_on_a_read_is_retried(
    emulator: EmulatorHandle, client: RailwayClient, sleeps: list[float], request_log, project: Project
):
    emulator.faults({"kind": "error", "status": 503, "count": 2, "operations": ["project"]})
    assert client.execute("project", {"id": project.id})["project"]["id"] == project.id
    assert [e["status"] for e in request_log("project")] == [503, 503, 200]
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.01 and 0 <= sleeps[1] <= 0.02  # full jitter under base_delay * 2**attempt


def test_5xx_on_a_retry_safe_write_is_retried(
    emulator: EmulatorHandle, client: RailwayClient, request_log, project: Project
):
    service = create_service(client, project.id, "api")
    emulator.faults({"kind": "error", "status": 502, "count": 2, "operations": ["serviceInstanceUpdate"]})
    variables = {"serviceId": service, "environmentId": project.production, "input": {"numReplicas": 3}}
    assert client.execute("serviceInstanceUpdate", variables) == {"serviceInstanceUpdate": True}
    assert [e["status"] for e in request_log("serviceInstanceUpdate")] == [502, 502, 200]
    assert read_instance(client, service, project.production)["numReplicas"] == 3


def test_5xx_on_a_create_is_not_retried(
    emulator: EmulatorHandle, client: RailwayClient, sleeps: list[float], request_log, project: Project
):
    emulator.faults({"kind": "error", "status": 503, "count": 2, "operations": ["serviceCreate"]})
    with pytest.raises(RailwayOutcomeUnknown) as raised:
        create_service(client, project.id, "api", image=IMAGE)
    assert raised.value.status == 503 and raised.value.operation == "serviceCreate"
    assert len(request_log("serviceCreate")) == 1
    assert sleeps == []


def test_5xx_on_every_attempt_of_a_read_raises_unavailable(
    emulator: EmulatorHandle, client: RailwayClient, sleeps: list[float], request_log
):
    emulator.faults({"kind": "error", "status": 500})
    with pytest.raises(RailwayUnavailable) as raised:
        client.execute("me")
    assert raised.value.status == 500
    assert len(request_log("me")) == MAX_ATTEMPTS
    assert len(sleeps) == MAX_ATTEMPTS - 1


# ---- failure after commit --------------------------------------------------------------------


def test_a_create_that_failed_after_commit_is_not_repeated(
    emulator: EmulatorHandle, client: RailwayClient, sleeps: list[float], request_log, project: Project
):
    emulator.faults({"kind": "fail_after_commit", "operations": ["serviceCreate"], "count": 1})
    with pytest.raises(RailwayOutcomeUnknown) as raised:
        create_service(client, project.id, "api", image=IMAGE)
    assert raised.value.operation == "serviceCreate"
    assert len(services_named(emulator, "api")) == 1  # it happened, exactly once
    entries = request_log("serviceCreate")
    assert len(entries) == 1 and entries[0]["fault"] == "fail_after_commit" and entries[0]["committed_status"] == 200
    assert sleeps == []


def test_a_retry_safe_write_that_failed_after_commit_is_repeated(
    emulator: EmulatorHandle, client: RailwayClient, request_log, project: Project
):
    service = create_service(client, project.id, "api")
    emulator.faults({"kind": "fail_after_commit", "operations": ["serviceInstanceUpdate"], "count": 1})
    variables = {
        "serviceId": service,
        "environmentId": project.production,
        "input": {"numReplicas": 2, "healthcheckPath": "/ready"},
    }
    assert client.execute("serviceInstanceUpdate", variables) == {"serviceInstanceUpdate": True}
    assert [e["status"] for e in request_log("serviceInstanceUpdate")] == [503, 200]
    instance = read_instance(client, service, project.production)
    assert (instance["numReplicas"], instance["healthcheckPath"]) == (2, "/ready")
    instances = [i for i in emulator.state()["instances"].values() if i["serviceId"] == service]
    assert len(instances) == 1


# ---- timeouts and connection failures ------------------------------------------------------


def test_a_read_that_times_out_is_retried(
    emulator: EmulatorHandle, make_client: MakeClient, sleeps: list[float], request_log, project: Project
):
    client = make_client(timeout=1.0)
    emulator.faults({"kind": "timeout", "seconds": 3, "count": 1, "operations": ["project"]})
    assert client.execute("project", {"id": project.id})["project"]["id"] == project.id
    assert [e["fault"] for e in request_log("project")] == ["timeout", None]
    assert len(sleeps) == 1


def test_a_create_that_times_out_has_an_unknown_outcome(
    emulator: EmulatorHandle, make_client: MakeClient, sleeps: list[float], request_log, project: Project
):
    client = make_client(timeout=1.0)
    emulator.faults({"kind": "timeout", "seconds": 3, "count": 1, "operations": ["serviceCreate"]})
    with pytest.raises(RailwayOutcomeUnknown) as raised:
        create_service(client, project.id, "api")
    assert raised.value.status is None and "ReadTimeout" in str(raised.value)
    assert len(request_log("serviceCreate")) == 1
    assert sleeps == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_raises_unavailable_after_every_attempt(make_client: MakeClient, sleeps: list[float]):
    client = make_client(endpoint=f"http://127.0.0.1:{closed_port()}/graphql/v2")
    with pytest.raises(RailwayUnavailable, match="cannot connect") as raised:
        client.execute("me")
    assert raised.value.operation == "me"
    assert client.requests_sent == MAX_ATTEMPTS
    assert len(sleeps) == MAX_ATTEMPTS - 1


def test_connection_refused_retries_even_a_create(make_client: MakeClient, sleeps: list[float]):
    # A request that never reached the server cannot have created anything.
    client = make_client(endpoint=f"http://127.0.0.1:{closed_port()}/graphql/v2", max_attempts=4)
    with pytest.raises(RailwayUnavailable):
        client.execute("serviceCreate", {"input": {"projectId": "p", "name": "api"}})
    assert client.requests_sent == 4
    assert len(sleeps) == 3


def test_after_one_request_found_no_server_the_others_of_the_process_try_once(
    make_client: MakeClient, emulator, sleeps: list[float]
):
    """Railway down: the run's first request retries as usual, the rest say so at once; the first
    answer from the endpoint lets requests retry again."""
    unreachable = Unreachable()
    down = f"http://127.0.0.1:{closed_port()}/graphql/v2"
    first = make_client(endpoint=down)
    with pytest.raises(RailwayUnavailable):
        first.execute("me")
    assert first.requests_sent == MAX_ATTEMPTS  # without the shared record: every attempt
    first.unreachable = unreachable
    with pytest.raises(RailwayUnavailable):
        first.execute("me")
    assert first.requests_sent == 2 * MAX_ATTEMPTS, "the first to find it down retried in full"
    sleeps.clear()

    later = make_client(endpoint=down)
    later.unreachable = unreachable
    with pytest.raises(RailwayUnavailable, match="cannot connect"):
        later.execute("serviceCreate", {"input": {"projectId": "p", "name": "api"}})
    assert later.requests_sent == 1 and sleeps == []

    back = make_client()  # the emulator: a server that answers again
    back.unreachable = unreachable
    unreachable.failed(emulator.url)
    assert back.execute("me")["me"], "the one try reaches a server that is back"
    assert unreachable.attempts(emulator.url, MAX_ATTEMPTS) == MAX_ATTEMPTS, "its answer cleared the record"
    assert unreachable.attempts(down, MAX_ATTEMPTS) == 1, "another endpoint's record stays"


# ---- invalid requests ----------------------------------------------------------------------


def test_an_unknown_input_field_raises_request_invalid(
    client: RailwayClient, sleeps: list[float], request_log, project: Project
):
    service = create_service(client, project.id, "api")
    variables = {"serviceId": service, "environmentId": project.production, "input": {"notAField": 1}}
    with pytest.raises(RailwayRequestInvalid) as raised:
        client.execute("serviceInstanceUpdate", variables)
    assert raised.value.code == "BAD_USER_INPUT" and raised.value.status == 400
    assert "notAField" in str(raised.value)
    assert len(request_log("serviceInstanceUpdate")) == 1 and sleeps == []


def test_an_operation_the_project_does_not_have_is_a_key_error(client: RailwayClient, request_log):
    with pytest.raises(KeyError):
        client.execute("bucketCreate", {})
    assert request_log() == []


# ---- secrecy -------------------------------------------------------------------------------


def test_the_token_never_appears_in_logs_or_errors(
    emulator: EmulatorHandle, make_client: MakeClient, caplog: pytest.LogCaptureFixture, capsys
):
    caplog.set_level(logging.DEBUG, logger="mvs.railway")
    secret = "acct-token-that-must-not-leak"
    emulator.register_token(secret, "account")
    client = make_client(RailwayToken(secret), timeout=1.0)
    project = create_project(client)
    raised: list[RailwayError] = []

    emulator.faults(
        {"kind": "rate_limit", "retry_after": 2, "count": 1, "operations": ["project"]},
        {"kind": "error", "status": 503, "count": 1, "operations": ["project"]},
        {"kind": "fail_after_commit", "operations": ["serviceCreate"]},
        {"kind": "error", "status": 500, "operations": ["environments"]},
        {"kind": "rate_limit", "retry_after": 1, "operations": ["environment"]},
    )
    client.execute("project", {"id": project.id})
    for name, variables in (
        ("serviceCreate", {"input": {"projectId": project.id, "name": "api"}}),
        ("environments", {"projectId": project.id}),
        ("environment", {"id": project.production}),
        ("serviceInstanceUpdate", {"serviceId": "x", "input": {"nope": 1}}),
        ("projectToken", {}),
        ("service", {"id": "missing"}),
    ):
        with pytest.raises(RailwayError) as error:
            client.execute(name, variables)
        raised.append(error.value)

    refused = make_client(RailwayToken(secret), endpoint=f"http://127.0.0.1:{closed_port()}/graphql/v2")
    with pytest.raises(RailwayError) as error:
        refused.execute("me")
    raised.append(error.value)
    wrong = make_client(RailwayToken("another-secret-token"))
    with pytest.raises(RailwayError) as error:
        wrong.execute("me")
    raised.append(error.value)

    kinds = {type(e) for e in raised}
    assert {RailwayOutcomeUnknown, RailwayUnavailable, RailwayRateLimited, RailwayRequestInvalid} <= kinds
    assert {RailwayNotAuthorized, RailwayNotFound} <= kinds
    for error in raised:
        for text in (str(error), repr(error), str(error.args)):
            assert secret not in text and "another-secret-token" not in text
    ours = [r for r in caplog.records if r.name == "mvs.railway"]
    assert any(r.levelno == logging.DEBUG for r in ours)
    notices = capsys.readouterr().err  # rate-limit waits are announced on stderr, not logged
    assert "railway: rate limited on project: waiting 2s" in notices and secret not in notices
    for record in caplog.records:
        assert secret not in record.getMessage() and "another-secret-token" not in record.getMessage()
    assert secret not in caplog.text
    assert secret not in emulator.log_path.read_text()


def test_creating_in_two_environments(client: RailwayClient, emulator: EmulatorHandle, project: Project):
    staging = create_environment(client, project.id, "staging")
    service = create_service(client, project.id, "api", image=IMAGE)
    for environment in (project.production, staging):
        assert read_instance(client, service, environment)["source"]["image"] == IMAGE
    assert len(services_named(emulator, "api")) == 1
