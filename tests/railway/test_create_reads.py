"""Creates read less (issue 13): the creates of one provider process share one read of their
project (providers/project_reads.py), and a domain create on a service this process made does not
read its domains first (providers/made_here.py); neither ever decides on a read a write may have
changed. The providers are called directly against the emulator, the way the provider process
calls them; the engine's part is tests/engine/test_create_reads.py."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from components.railway.providers import made_here, project_reads
from components.railway.providers.domains import CustomDomainProvider, ServiceDomainProvider
from components.railway.providers.environment import EnvironmentProvider
from components.railway.providers.made_here import MadeHere
from components.railway.providers.project import ProjectProvider
from components.railway.providers.project_reads import ProjectReads
from components.railway.providers.service import ServiceProvider
from components.railway.providers.volume import VolumeProvider
from railway_emulator.requestlog import read_log

from .conftest import create_environment
from .test_providers import configured
from .test_providers import world as world  # the fixture

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("frontend", "worker", "backup", "drill", "metrics")


@pytest.fixture
def one_run(monkeypatch) -> ProjectReads:
    """What the provider process of one engine run has: shared project reads, and a record of the
    services it made. Taken after `world`, so what `world` made counts as made by an earlier run."""
    reads = ProjectReads()
    monkeypatch.setattr(project_reads, "PROCESS_PROJECT_READS", reads)
    monkeypatch.setattr(made_here, "MADE_HERE", MadeHere())
    return reads


def sent(emulator, since: int) -> list[str]:
    return [entry["operation"] for entry in read_log(emulator.log_path)[since:]]


def service_names(emulator) -> list[str]:
    return sorted(s["name"] for s in emulator.state()["services"].values())


def scope(world) -> dict:
    return {k: world[k] for k in ("project_id", "environment_id")}


def test_outside_the_provider_process_nothing_is_shared_or_recorded():
    assert project_reads.PROCESS_PROJECT_READS is None and made_here.MADE_HERE is None


def test_concurrent_service_creates_in_one_project_read_it_once(emulator, world, one_run):
    before = len(read_log(emulator.log_path))
    start, created, failures = threading.Barrier(len(NAMES)), {}, []

    def create(name: str) -> None:
        start.wait()
        try:
            created[name] = configured(ServiceProvider, emulator).create({**scope(world), "name": name}).id
        except Exception as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=create, args=(name,)) for name in NAMES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sent(emulator, before).count("project") == 1
    assert sent(emulator, before).count("serviceCreate") == len(NAMES)
    assert service_names(emulator) == sorted(["backend", *NAMES])


def test_the_environment_lookup_and_the_service_creates_after_it_share_one_read(emulator, world, one_run):
    before = len(read_log(emulator.log_path))
    configured(EnvironmentProvider, emulator).create({"project_id": world["project_id"], "name": "staging"})
    for name in NAMES[:2]:
        configured(ServiceProvider, emulator).create({**scope(world), "name": name})
    assert sent(emulator, before) == ["project", "serviceCreate", "serviceCreate"]


def test_a_project_made_here_is_read_from_its_create_answer(emulator, one_run):
    """The project this run made holds only what its create answered: its environment and the
    services after it are found there, and nothing is read (a project adopted by name is read)."""
    before = len(read_log(emulator.log_path))
    project = configured(ProjectProvider, emulator).create(
        {"adopt_id": None, "name": "fresh", "description": "", "first_environment": "prod"}
    )
    environment = configured(EnvironmentProvider, emulator).create({"project_id": project.id, "name": "prod"})
    for name in NAMES[:2]:
        configured(ServiceProvider, emulator).create(
            {"project_id": project.id, "environment_id": environment.id, "name": name}
        )
    assert sent(emulator, before) == ["projects", "projectCreate", "serviceCreate", "serviceCreate"]
    assert sorted(s["name"] for s in emulator.state()["services"].values()) == sorted(NAMES[:2])


def test_a_read_begun_before_a_service_was_made_never_decides_to_make_it_again(emulator, world, one_run):
    """The same service declared again in another environment of the project (a Service replaced
    there, create before delete): the read shared so far predates `frontend`, so it is read again,
    and `frontend` is adopted, not made a second time."""
    prod = create_environment(configured(ServiceProvider, emulator).client(), world["project_id"], "prod")
    first = configured(ServiceProvider, emulator).create({**scope(world), "name": "frontend"})
    before = len(read_log(emulator.log_path))

    again = configured(ServiceProvider, emulator).create(
        {"project_id": world["project_id"], "environment_id": prod, "name": "frontend"}
    )

    assert again.id == first.id and service_names(emulator) == ["backend", "frontend"]
    assert sent(emulator, before)[0] == "project", "read again: the shared read is stale for frontend"
    assert f"{prod}:{first.id}" in emulator.state()["instances"]


def test_after_a_lost_create_answer_the_service_is_sought_in_a_read_begun_after_it(emulator, world, one_run):
    configured(ServiceProvider, emulator).create({**scope(world), "name": "worker"})  # the read is shared now
    emulator.faults({"kind": "fail_after_commit", "operations": ["serviceCreate"], "count": 1})
    before = len(read_log(emulator.log_path))

    created = configured(ServiceProvider, emulator).create({**scope(world), "name": "frontend"})

    assert service_names(emulator) == ["backend", "frontend", "worker"], "adopted, not made twice"
    assert created.id == next(i for i, s in emulator.state()["services"].items() if s["name"] == "frontend")
    assert sent(emulator, before)[:2] == ["serviceCreate", "project"], "then joins: adopted, so it asks"


def test_a_write_that_may_change_anything_makes_every_read_stale():
    reads, fetched = ProjectReads(), []

    def fetch() -> dict:
        fetched.append(1)
        return {"n": len(fetched)}

    key = ("http://railway", "p")
    assert reads.get(key, fetch, "a") == reads.get(key, fetch, "b") == {"n": 1}
    with reads.writing("p", "a"):
        reads.wrote()
    assert reads.get(key, fetch, "b") == {"n": 1}, "making a does not make b"
    assert reads.get(key, fetch, None) == {"n": 1}, "nor an environment"
    assert reads.get(key, fetch, "a") == {"n": 2}
    with reads.writing("other-project", "b"):
        reads.wrote()
    assert reads.get(key, fetch, "b") == {"n": 2}
    reads.wrote()  # an environment made, say
    assert reads.get(key, fetch, "b") == {"n": 3}


def test_writes_that_cannot_change_a_project_read_leave_it_good(one_run):
    """A service's settings, variables, domains, volume or deploy change none of the names a project
    read holds: a settings write of the first service made does not cost the later creates a read."""
    fetched = []

    def fetch() -> dict:
        fetched.append(1)
        return {"n": len(fetched)}

    key = ("http://railway", "p")
    one_run.get(key, fetch, "a")
    for operation in sorted(project_reads.LEAVES_PROJECT_READS):
        project_reads.wrote(operation)
    assert one_run.get(key, fetch, "b") == {"n": 1}
    project_reads.wrote("environmentPatchCommit")  # may make or remove anything
    assert one_run.get(key, fetch, "b") == {"n": 2}
    operations_here = {p.stem for p in (ROOT / "components/railway/operations").glob("*.graphql")}
    assert operations_here >= project_reads.LEAVES_PROJECT_READS, "only operations the project sends"
    assert (
        not {"serviceCreate", "serviceDelete", "serviceUpdate", "environmentCreate"}
        & project_reads.LEAVES_PROJECT_READS
    )


def test_a_write_that_ends_while_the_read_is_answered_makes_it_read_again():
    reads, fetched = ProjectReads(), []

    def fetch() -> dict:
        fetched.append(1)
        if len(fetched) == 1:
            writer = threading.Thread(target=reads.wrote)  # another resource's thread
            writer.start()
            writer.join()
        return {"n": len(fetched)}

    assert reads.get(("http://railway", "p"), fetch, "a") == {"n": 2}


def test_a_failed_read_is_not_kept():
    reads = ProjectReads()

    def fails() -> dict:
        raise RuntimeError("no answer")

    with pytest.raises(RuntimeError):
        reads.get(("http://railway", "p"), fails, "a")
    assert reads.get(("http://railway", "p"), lambda: {"n": 1}, "a") == {"n": 1}


def test_domains_of_a_service_made_here_are_created_without_reading_first(emulator, world, one_run):
    service = configured(ServiceProvider, emulator).create({**scope(world), "name": "frontend"})
    props = {**scope(world), "service_id": service.id, "target_port": 8080}
    before = len(read_log(emulator.log_path))

    configured(ServiceDomainProvider, emulator).create(props)
    for hostname in ("mvs.example.com", "www.mvs.example.com"):
        configured(CustomDomainProvider, emulator).create({**props, "domain": hostname})

    assert sent(emulator, before) == ["serviceDomainCreate", "customDomainCreate", "customDomainCreate"]


@pytest.mark.parametrize(
    ("provider_class", "create", "extra"),
    [
        (ServiceDomainProvider, "serviceDomainCreate", {}),
        (CustomDomainProvider, "customDomainCreate", {"domain": "mvs.example.com"}),
    ],
)
def test_after_a_lost_domain_create_answer_the_domain_is_adopted(
    emulator, world, one_run, provider_class, create, extra
):
    """A service made here has no domains, but a create whose answer was lost may have made one."""
    service = configured(ServiceProvider, emulator).create({**scope(world), "name": "frontend"})
    props = {**scope(world), "service_id": service.id, "target_port": 8080, **extra}
    emulator.faults({"kind": "fail_after_commit", "operations": [create], "count": 1})
    before = len(read_log(emulator.log_path))

    made = configured(provider_class, emulator).create(props)

    assert sent(emulator, before) == [create, "domains"]
    kind = "service_domains" if provider_class is ServiceDomainProvider else "custom_domains"
    assert list(emulator.state()[kind]) == [made.id], "adopted, not made twice"


def test_a_domain_create_reads_first_on_a_service_not_made_here_or_asked_for_twice(emulator, world, one_run):
    """`backend` was made by an earlier run: its domain is adopted. A second create of the same
    domain on a service made here reads too, and adopts what the first made."""
    props = {**scope(world), "service_id": world["service_id"], "target_port": 8080}
    earlier = configured(ServiceDomainProvider, emulator).create(props)  # its state was lost, say
    before = len(read_log(emulator.log_path))
    assert configured(ServiceDomainProvider, emulator).create(props).id == earlier.id
    assert sent(emulator, before) == ["domains"]

    service = configured(ServiceProvider, emulator).create({**scope(world), "name": "frontend"})
    props = {**props, "service_id": service.id}
    first = configured(ServiceDomainProvider, emulator).create(props)
    assert configured(ServiceDomainProvider, emulator).create(props).id == first.id
    assert len(emulator.state()["service_domains"]) == 2


def test_a_volume_create_refused_before_it_made_anything_is_asked_again(emulator, world):
    """The volume create adopts through create_or_adopt, like the others: a 5xx that made nothing
    costs one request, not the whole up; a lost answer adopts what it made."""
    props = {**scope(world), "service_id": world["service_id"], "mount_path": "/data", "size_mb": 5000}
    emulator.faults({"kind": "error", "status": 503, "operations": ["volumeCreate"], "count": 1})
    before = len(read_log(emulator.log_path))

    created = configured(VolumeProvider, emulator).create(props)

    assert sent(emulator, before)[:3] == ["volumeCreate", "environmentVolumes", "volumeCreate"]
    assert list(emulator.state()["volumes"]) == [created.id]


def test_a_volume_on_a_service_made_here_asks_nothing_about_earlier_deployments(emulator, world, one_run):
    """A service this run made has never run, so its new volume needs no redeploy and nothing is
    read to find out; one made earlier that ran is asked, and redeployed onto the new volume."""
    service = configured(ServiceProvider, emulator).create({**scope(world), "name": "db"})
    before = len(read_log(emulator.log_path))
    props = {**scope(world), "service_id": service.id, "mount_path": "/data", "size_mb": 5000}
    configured(VolumeProvider, emulator).create(props)
    assert "deployments" not in sent(emulator, before)

    deploy = "mutation($s: String!, $e: String!) { serviceInstanceDeployV2(serviceId: $s, environmentId: $e) }"
    emulator.dashboard(deploy, {"s": world["service_id"], "e": world["environment_id"]})
    before = len(read_log(emulator.log_path))
    props = {**scope(world), "service_id": world["service_id"], "mount_path": "/data", "size_mb": 5000}
    configured(VolumeProvider, emulator).create(props)
    assert sent(emulator, before).count("serviceInstanceDeployV2") == 1, "ran before: deployed onto the new volume"
    assert "deployments" in sent(emulator, before)
