"""A Railway project: created here, or adopted by id (then never deleted by this stack)."""

from __future__ import annotations

import sys
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from ...errors import RailwayNotFound, RailwayOutcomeUnknown
from .base import RailwayProvider, now_iso, pick

FIELDS = ("name", "description")


def _outputs(project: dict[str, Any], adopted: bool, first_environment: str) -> dict[str, Any]:
    return {
        "project_id": project["id"],
        "first_environment": first_environment,
        "adopt_id": project["id"] if adopted else None,
        "name": project["name"],
        "description": project.get("description") or "",
    }


class ProjectProvider(RailwayProvider):
    """Railway makes one environment with every project; it is named after the first stack's
    environment, which then adopts it, so a new project holds no stray environment."""

    inputs = ("adopt_id", "name", "description", "first_environment")
    replace_on = ("adopt_id",)

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.client() as client:
            if props.get("adopt_id"):
                project = client.execute("project", {"id": props["adopt_id"]})["project"]
                return CreateResult(project["id"], _outputs(project, True, props["first_environment"]))
            started = now_iso()
            try:
                created = client.execute(
                    "projectCreate",
                    {"input": {**pick(props, FIELDS), "defaultEnvironmentName": props["first_environment"]}},
                )["projectCreate"]
            except RailwayOutcomeUnknown:
                # It may exist now: adopt the project of that name made since we asked, not a second one.
                edges = client.execute("projects")["projects"]["edges"]
                made = [
                    e["node"] for e in edges if e["node"]["name"] == props["name"] and e["node"]["createdAt"] >= started
                ]
                if len(made) != 1:
                    raise
                created = client.execute("project", {"id": made[0]["id"]})["project"]
            return CreateResult(created["id"], _outputs(created, False, props["first_environment"]))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        with self.client() as client:
            updated = client.execute("projectUpdate", {"id": id_, "input": pick(news, FIELDS)})["projectUpdate"]
        return UpdateResult(_outputs(updated, bool(news.get("adopt_id")), news["first_environment"]))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        project = self.lookup("project", {"id": id_})
        if project is None:
            return ReadResult(None, {})
        outs = _outputs(project, bool(props.get("adopt_id")), props.get("first_environment"))
        return ReadResult(id_, outs, pick(outs, self.inputs))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete a project this stack created, unless something (another stack) still uses it."""
        if props.get("adopt_id"):
            return  # adopted: it belongs to whoever made it
        try:
            with self.client() as client:
                project = client.execute("project", {"id": id_})["project"]
                environments = [e["node"]["name"] for e in project["environments"]["edges"]]
                if project["services"]["edges"] or environments:
                    print(
                        f"railway: kept project {project['name']} ({id_}): environments {', '.join(environments)} "
                        "still use it",
                        file=sys.stderr,
                    )
                    return
                client.execute("projectDelete", {"id": id_})
        except RailwayNotFound:
            pass


class Project(Resource, module="railway", name="Project"):
    project_id: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        project_name: str,
        first_environment: str,
        adopt_id: str | None = None,
        description: str = "",
        opts=None,
    ):
        props = {
            "adopt_id": adopt_id,
            "name": project_name,
            "description": description,
            "first_environment": first_environment,
            "project_id": None,
        }
        super().__init__(ProjectProvider(), name, props, opts)
