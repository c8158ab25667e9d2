"""A Railway environment (staging, prod) inside a project.

Its identity is the environment id: one renamed in the dashboard is renamed back in place, never
replaced (a replacement would delete every service, variable and volume in it).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from .base import RailwayProvider, create_or_adopt, pick
from .project_reads import read_project


def _outputs(environment: dict[str, Any]) -> dict[str, Any]:
    return {"environment_id": environment["id"], "project_id": environment["projectId"], "name": environment["name"]}


class EnvironmentProvider(RailwayProvider):
    inputs = ("project_id", "name")
    replace_on = ("project_id",)

    @staticmethod
    def _find(client, project_id: str, name: str) -> dict[str, Any] | None:
        """The project's environment of that name, from a read of the project: the one the
        services about to be created here share (project_reads.py), so it costs them nothing."""
        edges = read_project(client, project_id)["environments"]["edges"]
        return next((e["node"] for e in edges if e["node"]["name"] == name), None)

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.client() as client:
            existing = self._find(client, props["project_id"], props["name"])
            if existing is None:
                create_input = {"name": props["name"], "projectId": props["project_id"], "skipInitialDeploys": True}
                existing = create_or_adopt(
                    lambda: client.execute("environmentCreate", {"input": create_input})["environmentCreate"],
                    lambda: self._find(client, props["project_id"], props["name"]),
                )
            existing = {"projectId": props["project_id"], **existing}
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
