"""A service's variables in one environment, owned as one collection.

Values are written unrendered: `${{Postgres.DATABASE_URL}}` stays a reference that Railway
resolves at deploy time. Writes pass skipDeploys, so changing variables never deploys by itself;
the Deployment resource does that once. Variables added out of band show as drift and are removed
on the next up.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from ...errors import RailwayNotFound
from .base import RailwayProvider, applied_now, pick


class VariablesProvider(RailwayProvider):
    inputs = ("project_id", "environment_id", "service_id", "variables")
    replace_on = ("project_id", "environment_id", "service_id")

    def _scope(self, props: dict[str, Any]) -> dict[str, Any]:
        return {
            "projectId": props["project_id"],
            "environmentId": props["environment_id"],
            "serviceId": props["service_id"],
        }

    def _write(self, props: dict[str, Any], old: dict[str, str]) -> dict[str, Any]:
        new: dict[str, str] = props.get("variables") or {}
        changed = {k: v for k, v in new.items() if old.get(k) != v}
        with self.client() as client:
            if changed:
                client.execute(
                    "variableCollectionUpsert",
                    {"input": {**self._scope(props), "variables": changed, "skipDeploys": True}},
                )
            for name in sorted(set(old) - set(new)):
                with contextlib.suppress(RailwayNotFound):
                    client.execute("variableDelete", {"input": {**self._scope(props), "name": name}})
        return {**pick(props, self.inputs), "applied_at": applied_now()}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['environment_id']}:{props['service_id']}", self._write(props, {}))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._write(news, olds.get("variables") or {}))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        current = self.lookup("variables", {**self._scope(props), "unrendered": True})
        if current is None:
            return ReadResult(None, {})
        current_inputs = {**pick(props, self.inputs), "variables": dict(current)}
        return ReadResult(id_, {**current_inputs, "applied_at": props.get("applied_at")}, current_inputs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with contextlib.suppress(RailwayNotFound):
            self._write({**props, "variables": {}}, props.get("variables") or {})


class Variables(Resource, module="railway", name="Variables"):
    applied_at: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        project_id: pulumi.Input[str],
        environment_id: pulumi.Input[str],
        service_id: pulumi.Input[str],
        variables: pulumi.Input[dict[str, str]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "project_id": project_id,
            "environment_id": environment_id,
            "service_id": service_id,
            "variables": variables,
            "applied_at": None,
        }
        super().__init__(VariablesProvider(), name, props, opts)
