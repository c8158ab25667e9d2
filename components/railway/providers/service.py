"""A Railway service, as one environment sees it.

Railway keeps a service at project level with one instance per environment. This resource owns
the instance in its environment: it creates the service when the project has none of that name
(without a source, so nothing deploys anywhere), adopts it otherwise, and on delete removes only
its own environment's instance. Destroying staging therefore never touches prod.

Its identity is the service id, not the name: a service renamed in the dashboard is renamed back
in place, never replaced, so its volume, domains and URL stay.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from ...errors import RailwayOutcomeUnknown
from .base import RailwayProvider, pick


class ServiceProvider(RailwayProvider):
    inputs = ("project_id", "environment_id", "name")
    replace_on = ("project_id", "environment_id")

    def _find(self, client, project_id: str, name: str) -> dict[str, Any] | None:
        edges = client.execute("project", {"id": project_id})["project"]["services"]["edges"]
        return next((e["node"] for e in edges if e["node"]["name"] == name), None)

    def _outputs(self, service_id: str, props: dict[str, Any]) -> dict[str, Any]:
        return {**pick(props, self.inputs), "service_id": service_id}

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.client() as client:
            service = self._find(client, props["project_id"], props["name"])
            if service is None:
                try:
                    service = client.execute(
                        "serviceCreate", {"input": {"projectId": props["project_id"], "name": props["name"]}}
                    )["serviceCreate"]
                except RailwayOutcomeUnknown:
                    # The create may have happened: adopt what it made rather than make a second one.
                    service = self._find(client, props["project_id"], props["name"])
                    if service is None:
                        raise
        return CreateResult(service["id"], self._outputs(service["id"], props))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("name") != news["name"]:
            self.call("serviceUpdate", {"id": id_, "input": {"name": news["name"]}})
        return UpdateResult(self._outputs(id_, news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        instance = self.lookup("serviceInstance", {"environmentId": props["environment_id"], "serviceId": id_})
        if instance is None:
            return ReadResult(None, {})
        outs = self._outputs(id_, {**props, "name": instance["serviceName"]})
        return ReadResult(id_, outs, pick(outs, self.inputs))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.delete_quietly("serviceDelete", {"id": id_, "environmentId": props["environment_id"]})


class Service(Resource, module="railway", name="Service"):
    service_id: pulumi.Output[str]

    def __init__(
        self, name: str, project_id: pulumi.Input[str], environment_id: pulumi.Input[str], service_name: str, opts=None
    ):
        props = {"project_id": project_id, "environment_id": environment_id, "name": service_name, "service_id": None}
        super().__init__(ServiceProvider(), name, props, opts)
