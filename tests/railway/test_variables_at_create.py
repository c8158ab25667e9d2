"""A service made in this run carries its variables in its `serviceCreate` (issue 13: prod's up
from empty sent 5 `variableCollectionUpsert`s that its creates can carry). The Variables create
that follows writes only what differs from them, and anything not made here, or asked about
twice, is written whole. The providers are called directly against the emulator, the way the
provider process calls them; the engine's part is tests/engine/test_request_budget.py."""

from __future__ import annotations

from components.railway.providers.environment import EnvironmentProvider
from components.railway.providers.service import ServiceProvider
from components.railway.providers.variables import VariablesProvider
from railway_emulator.requestlog import read_log
from railway_emulator.store import variables_key

from .test_create_reads import one_run as one_run  # the fixture
from .test_create_reads import scope, sent
from .test_providers import configured
from .test_providers import world as world  # the fixture

VARIABLES = {"LOG_LEVEL": "info", "DATABASE_URL": "${{Postgres.DATABASE_URL}}", "SESSION_SECRET": "s3cr3t-value"}


def held(emulator, world, service_id: str, environment_id: str | None = None) -> dict | None:
    key = variables_key(environment_id or world["environment_id"], service_id)
    return emulator.state()["variables"].get(key)


def make_service(emulator, world, variables: dict | None, name: str = "frontend") -> str:
    return configured(ServiceProvider, emulator).create({**scope(world), "name": name, "variables": variables}).id


def create_variables(emulator, world, service_id: str, variables: dict) -> list[str]:
    """The Variables create on that service; what it sent."""
    before = len(read_log(emulator.log_path))
    props = {**scope(world), "service_id": service_id, "variables": variables}
    configured(VariablesProvider, emulator).create(props)
    return sent(emulator, before)


def test_a_service_made_here_starts_with_its_variables_and_they_are_not_written_again(emulator, world, one_run):
    other = configured(EnvironmentProvider, emulator).create({"project_id": world["project_id"], "name": "prod"})
    before = len(read_log(emulator.log_path))
    service_id = make_service(emulator, world, VARIABLES)
    # The instance Railway made in prod is removed (service.py); no variable is written.
    assert sent(emulator, before) == ["project", "serviceCreate", "serviceInstance", "serviceDelete"]
    assert held(emulator, world, service_id) == VARIABLES, "as written, references unrendered"
    assert held(emulator, world, service_id, other.id) is None, "only in its own environment"

    assert create_variables(emulator, world, service_id, VARIABLES) == []
    assert held(emulator, world, service_id) == VARIABLES


def test_what_differs_from_the_create_is_written_and_what_it_no_longer_has_removed(emulator, world, one_run):
    service_id = make_service(emulator, world, {"A": "1", "B": "2"})
    wanted = {"A": "1", "C": "3"}
    assert create_variables(emulator, world, service_id, wanted) == ["variableCollectionUpsert", "variableDelete"]
    assert held(emulator, world, service_id) == wanted


def test_a_service_made_without_variables_gets_them_whole(emulator, world, one_run):
    service_id = make_service(emulator, world, None)
    assert held(emulator, world, service_id) in (None, {})
    assert create_variables(emulator, world, service_id, VARIABLES) == ["variableCollectionUpsert"]
    assert held(emulator, world, service_id) == VARIABLES


def test_it_is_told_once_and_only_of_services_made_here(emulator, world, one_run):
    """`backend` was made by an earlier run: nothing is known of what it holds, so all is written.
    A second Variables create on a service made here writes all again."""
    assert create_variables(emulator, world, world["service_id"], VARIABLES) == ["variableCollectionUpsert"]
    service_id = make_service(emulator, world, VARIABLES)
    assert create_variables(emulator, world, service_id, VARIABLES) == []
    assert create_variables(emulator, world, service_id, VARIABLES) == ["variableCollectionUpsert"]


def test_a_service_adopted_after_its_lost_create_answer_gets_its_variables_written(emulator, world, one_run):
    """The lost create did carry them, but what Railway kept of them is not known: all are written."""
    emulator.faults({"kind": "fail_after_commit", "operations": ["serviceCreate"], "count": 1})
    service_id = make_service(emulator, world, VARIABLES)
    assert len([s for s in emulator.state()["services"].values() if s["name"] == "frontend"]) == 1
    assert create_variables(emulator, world, service_id, VARIABLES) == ["variableCollectionUpsert"]
    assert held(emulator, world, service_id) == VARIABLES


def test_outside_the_provider_process_the_variables_are_written_whole(emulator, world):
    service_id = make_service(emulator, world, VARIABLES)
    assert create_variables(emulator, world, service_id, VARIABLES) == ["variableCollectionUpsert"]
