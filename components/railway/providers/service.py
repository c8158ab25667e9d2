"""A Railway service, as one environment sees it.

Railway keeps a service at project level with one instance per environment. This resource owns
the instance in its environment: it creates the service when the project has none of that name
(without a source, so nothing deploys anywhere), adopts it otherwise, and on delete removes only
its own environment's instance. Destroying staging therefore never touches prod.

Services come and go per environment: a service another environment still uses (one staging
dropped and declares again, or whose instance was deleted in the dashboard) is adopted, and its
missing instance here is added with an environment patch (`isCreated`), the way Railway's own
clients add a service to one environment; the other environment's instance is left alone. A
service this resource creates stays in its environment: the empty instances Railway makes in the
others at the same time are removed.

A service it makes carries its variables in the `serviceCreate` (`environmentId` and `variables`,
as Railway's own CLI adds a service): the Variables resource that follows then has nothing to write
(made_here.py). The variables here are only that first value: a change to them is the Variables
resource's, never this one's, so they are not among the inputs compared.

Its identity is the service id, not the name: a service renamed in the dashboard is renamed back
in place, never replaced, so its volume, domains and URL stay.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from ...errors import RailwayNotFound
from . import made_here
from .base import RailwayProvider, create_or_adopt, pick
from .project_reads import read_project, writing


class ServiceProvider(RailwayProvider):
    inputs = ("project_id", "environment_id", "name")
    replace_on = ("project_id", "environment_id")

    @staticmethod
    def _find(client, project_id: str, name: str) -> tuple[dict[str, Any] | None, list[str]]:
        """The project's service of that name (or None) and the project's environment ids, from
        one read of the project: the one this process's creates share, unless a write since may
        have made this service or an environment (project_reads.py)."""
        project = read_project(client, project_id, name)
        services = [e["node"] for e in project["services"]["edges"]]
        environments = [e["node"]["id"] for e in project["environments"]["edges"]]
        return next((s for s in services if s["name"] == name), None), environments

    def _outputs(self, service_id: str, props: dict[str, Any]) -> dict[str, Any]:
        return {**pick(props, self.inputs), "service_id": service_id}

    def create(self, props: dict[str, Any]) -> CreateResult:
        project_id, name, variables = props["project_id"], props["name"], props.get("variables") or {}
        with self.client() as client, writing(project_id, name):
            (service, environments), created = self._find(client, project_id, name), False
            if service is None:

                def make() -> tuple[dict[str, Any], bool]:
                    create_input = {"projectId": project_id, "name": name}
                    if variables:
                        create_input |= {"environmentId": props["environment_id"], "variables": variables}
                    return client.execute("serviceCreate", {"input": create_input})["serviceCreate"], True

                def adopt() -> tuple[dict[str, Any], bool] | None:
                    # A read begun after the lost create (the shared one is stale for this name).
                    nonlocal environments
                    found, environments = self._find(client, project_id, name)
                    return (found, False) if found is not None else None

                service, created = create_or_adopt(make, adopt)
            if created:
                made_here.made(service["id"], variables)
                # Railway made it in every environment of the project, this one included (only a
                # fork keeps a new service to itself, and stacks make no forks): no need to ask.
                self._leave_others(client, service["id"], props, environments)
            else:
                self._join(client, service["id"], props)
        return CreateResult(service["id"], self._outputs(service["id"], props))

    @staticmethod
    def _leave_others(client, service_id: str, props: dict[str, Any], environments: list[str]) -> None:
        """Railway makes a new service in every environment of the project; the instances it made in
        the others (no source, never deployed) are removed, so a service declared for staging alone
        does not appear in prod, and destroying staging deletes it from the project. `environments`:
        the project's, as read just before the create."""
        for environment_id in environments:
            scope = {"environmentId": environment_id, "serviceId": service_id}
            if scope["environmentId"] == props["environment_id"]:
                continue
            try:
                instance = client.execute("serviceInstance", scope)["serviceInstance"]
            except RailwayNotFound:
                continue
            if instance["source"] is None and instance["latestDeployment"] is None:
                with contextlib.suppress(RailwayNotFound):
                    client.execute("serviceDelete", {"id": service_id, "environmentId": scope["environmentId"]})

    @staticmethod
    def _join(client, service_id: str, props: dict[str, Any]) -> None:
        """Give the service an instance in this environment if it has none (patches are retry-safe:
        committing it twice leaves one instance)."""
        scope = {"environmentId": props["environment_id"], "serviceId": service_id}
        try:
            client.execute("serviceInstance", scope)
            return
        except RailwayNotFound:
            pass
        client.execute(
            "environmentPatchCommit",
            {
                "environmentId": props["environment_id"],
                "patch": {"services": {service_id: {"isCreated": True}}},
                "commitMessage": f"mvs: add service {props['name']} to this environment",
            },
        )

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("name") != news["name"]:
            self.call("serviceUpdate", {"id": id_, "input": {"name": news["name"]}})
        return UpdateResult(self._outputs(id_, news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        snapshot = self.snapshot(props["environment_id"])
        instance = snapshot.instance(id_) if snapshot is not None else None
        if instance is None:
            return ReadResult(None, {})
        outs = self._outputs(id_, {**props, "name": instance["serviceName"]})
        return ReadResult(id_, outs, pick(outs, self.inputs))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.delete_quietly("serviceDelete", {"id": id_, "environmentId": props["environment_id"]})


class Service(Resource, module="railway", name="Service"):
    service_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        project_id: pulumi.Input[str],
        environment_id: pulumi.Input[str],
        service_name: str,
        opts=None,
        variables: pulumi.Input[dict[str, str]] | None = None,
    ):
        """`variables`: what a service made here starts with in this environment (the Variables
        resource's own value, secret when it holds one); only its create uses them."""
        props = {
            "project_id": project_id,
            "environment_id": environment_id,
            "name": service_name,
            "variables": variables,
            "service_id": None,
        }
        super().__init__(ServiceProvider(), name, props, opts)
