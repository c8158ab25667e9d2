"""A Railway environment (staging, prod) inside a project.

Its identity is the environment id: one renamed in the dashboard is renamed back in place, never
replaced (a replacement would delete every service, variable and volume in it).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from ...errors import RailwayOutcomeUnknown
from .base import RailwayProvider, pick


def _outputs(environment: dict[str, Any]) -> dict[str, Any]:
    return {"environment_id": environment["id"], "project_id": environment["projectId"], "name": environment["name"]}


class EnvironmentProvider(RailwayProvider):
    inputs = ("project_id", "name")
    replace_on = ("project_id",)

    def _find(self, client, project_id: str, name: str) -> dict[str, Any] | None:
        edges = client.execute("environments", {"projectId": project_id})["environments"]["edges"]
        return next((e["node"] for e in edges if e["node"]["name"] == name), None)

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.client() as client:
            existing = self._find(client, props["project_id"], props["name"])
            if existing is None:
                try:
                    create_input = {"name": props["name"], "projectId": props["project_id"], "skipInitialDeploys": True}
                    existing = client.execute("environmentCreate", {"input": create_input})["environmentCreate"]
                except RailwayOutcomeUnknown:
                    existing = self._find(client, props["project_id"], props["name"])
                    if existing is None:
                        raise
            existing.setdefault("projectId", props["project_id"])
            return CreateResult(existing["id"], _outputs(existing))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only the name can change in place (another project means another environment)."""
        renamed = self.call("environmentRename", {"id": id_, "input": {"name": news["name"]}})
        renamed.setdefault("projectId", news["project_id"])
        return UpdateResult(_outputs(renamed))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        snapshot = self.snapshot(id_)
        if snapshot is None:
            return ReadResult(None, {})
        outs = _outputs(snapshot.environment)
        return ReadResult(id_, outs, pick(outs, self.inputs))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        self.delete_quietly("environmentDelete", {"id": id_})


class Environment(Resource, module="railway", name="Environment"):
    environment_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        project_id: pulumi.Input[str],
        environment_name: str,
        sibling_environments: dict[str, str] | None = None,
        opts=None,
    ):
        """`sibling_environments`: the environment each sibling stack sharing this project uses (stack
        file -> name), so a policy can see two stacks about to share one environment; not compared."""
        props = {
            "project_id": project_id,
            "name": environment_name,
            "sibling_environments": sibling_environments or {},
            "environment_id": None,
        }
        super().__init__(EnvironmentProvider(), name, props, opts)
