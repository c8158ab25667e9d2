"""A service's variables in one environment, owned as one collection.

Values are written unrendered: `${{Postgres.DATABASE_URL}}` stays a reference that Railway
resolves at deploy time. Writes pass skipDeploys, so changing variables never deploys by itself;
the Deployment resource does that once. A service made in this run already holds the variables its
create carried, and only what differs from them is written. Variables added out of band show as
drift and are removed on the next up.

When the collection holds a secret, Pulumi shows the whole map as `[secret]`, so a refresh or a
preview would not say which variables differ. The provider says it instead, on the run's output:
names only, never a value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from ...errors import RailwayNotFound
from . import made_here
from .base import RailwayProvider, applied_now, pick, say

SHOWN_CHARACTERS = 60


def differences(old: dict[str, str], new: dict[str, str], plain: Collection[str] = ()) -> list[str]:
    """Which names differ between two collections, and how. Values only of the `plain` names (the
    ones the stack file declares in plain text: `LOG_LEVEL changed: warn → error`), never of a
    secret or of anything else."""

    def value(text: str) -> str:
        flat = " ".join(str(text).split())
        return flat if len(flat) <= SHOWN_CHARACTERS else flat[: SHOWN_CHARACTERS - 1] + "…"

    def said(name: str, how: str, *values: str) -> str:
        return f"{name} {how}: {' → '.join(map(value, values))}" if name in plain else f"{name} {how}"

    return [
        *(said(name, "added", new[name]) for name in sorted(set(new) - set(old))),
        *(
            said(name, "changed", old[name], new[name])
            for name in sorted(set(old) & set(new))
            if old[name] != new[name]
        ),
        *(said(name, "removed", old[name]) for name in sorted(set(old) - set(new))),
    ]


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
        return {**pick(props, self.inputs), "service_name": props.get("service_name"), "applied_at": applied_now()}

    def create(self, props: dict[str, Any]) -> CreateResult:
        # A service this run made holds what its create carried (made_here.py); anywhere else,
        # nothing is known of what is there, and every variable is written.
        there = made_here.variables_made_with(props["service_id"]) or {}
        return CreateResult(f"{props['environment_id']}:{props['service_id']}", self._write(props, there))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._write(news, olds.get("variables") or {}))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]):
        result = super().diff(id_, olds, news)
        old, new = olds.get("variables"), news.get("variables")
        known = result.changes and isinstance(old, dict) and isinstance(new, dict)
        if known and (found := differences(old, new, news.get("plain_names") or ())):
            say(f"railway: variables of {_who(news)} to apply: {', '.join(found)}")
        return result

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        snapshot = self.snapshot(props["environment_id"])
        current = snapshot.variables(props["service_id"]) if snapshot is not None else None
        if current is None:
            return ReadResult(None, {})
        if found := differences(props.get("variables") or {}, dict(current), props.get("plain_names") or ()):
            say(f"railway: variables of {_who(props)} changed outside this stack: {', '.join(found)}")
        current_inputs = {**pick(props, self.inputs), "variables": dict(current)}
        outs = {**current_inputs, "service_name": props.get("service_name"), "applied_at": props.get("applied_at")}
        return ReadResult(id_, outs, current_inputs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with contextlib.suppress(RailwayNotFound):
            self._write({**props, "variables": {}}, props.get("variables") or {})


def _who(props: dict[str, Any]) -> str:
    return f"service {props.get('service_name') or props.get('service_id')}"


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
        service_name: str | None = None,
        secret_names: list[str] | None = None,
        plain_names: list[str] | None = None,
    ):
        """`secret_names`: which variables hold a declared secret. Policies cannot tell a secret value
        from a plain one (they see both decrypted), so this says which is which; names only, not compared.
        `plain_names`: the variables declared in plain text, whose values a preview may show."""
        props = {
            "project_id": project_id,
            "environment_id": environment_id,
            "service_id": service_id,
            "variables": variables,
            "service_name": service_name,  # for messages only: not compared
            "secret_names": sorted(secret_names or []),
            "plain_names": sorted(plain_names or []),  # for messages only: not compared
            "applied_at": None,
        }
        super().__init__(VariablesProvider(), name, props, opts)
