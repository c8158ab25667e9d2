"""A Railway project: adopted by id (then never deleted by this stack), found, or created here.

Without an id to adopt, a stack never makes a silent second project: it first looks for the one
it means, a project with its declared name in the token's workspace or the project a sibling
stack (sharing this one's project) declares by id. Exactly one is taken as this stack's own, so
an up killed after `projectCreate` was sent, or a staging re-created while prod lives on, comes
back to its project; several stop the run with the list and the key that decides; none is created.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from ...errors import RailwayNotAuthorized, RailwayNotFound, RailwayOutcomeUnknown, RailwayProjectAmbiguous
from . import project_reads
from .base import RailwayProvider, pick, say

FIELDS = ("name", "description")
ADOPT_KEY = "mvs:environment.railway.project_id"


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
            found = self._candidates(client, props)
            if len(found) > 1:
                raise RailwayProjectAmbiguous(_ambiguity(props, found))
            if found:
                created = client.execute("project", {"id": found[0]["id"]})["project"]
                say(f"railway: using the existing project {created['name']} ({created['id']})")
            else:
                try:
                    created = client.execute(
                        "projectCreate",
                        {"input": {**pick(props, FIELDS), "defaultEnvironmentName": props["first_environment"]}},
                    )["projectCreate"]
                    project_reads.made(client, created)
                except RailwayOutcomeUnknown:
                    # None existed before we asked, so the one there now is what the request made.
                    made = self._candidates(client, props)
                    if len(made) != 1:
                        raise
                    created = client.execute("project", {"id": made[0]["id"]})["project"]
            return CreateResult(created["id"], _outputs(created, False, props["first_environment"]))

    @staticmethod
    def _candidates(client, props: dict[str, Any]) -> list[dict[str, Any]]:
        """The existing projects this stack may mean, oldest first: those with its name in the
        token's workspace, and those its sibling stacks declare by id (when they still exist)."""
        found = {p["id"]: p for p in _all_projects(client) if p["name"] == props["name"]}
        for project_id in sorted(props.get("sibling_ids") or {}):
            if project_id not in found:
                try:
                    found[project_id] = client.execute("project", {"id": project_id})["project"]
                except (RailwayNotFound, RailwayNotAuthorized):
                    continue  # gone, or not this token's: nothing to come back to
        return sorted(found.values(), key=lambda p: (p.get("createdAt") or "", p["id"]))

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
                    say(
                        f"railway: kept project {project['name']} ({id_}): environments {', '.join(environments)} "
                        "still use it"
                    )
                    return
                client.execute("projectDelete", {"id": id_})
        except RailwayNotFound:
            pass


def _all_projects(client) -> list[dict[str, Any]]:
    """Every project the token sees, page after page: the one sought may be on any of them."""
    projects, after = [], None
    while True:
        page = client.execute("projects", {"after": after})["projects"]
        projects += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return projects
        after = page["pageInfo"]["endCursor"]


def _ambiguity(props: dict[str, Any], found: list[dict[str, Any]]) -> str:
    declared_by = props.get("sibling_ids") or {}
    listed = "; ".join(
        f"{p['name']!r} (id {p['id']}, created {p.get('createdAt') or 'at an unknown time'}"
        + (f", declared by {declared_by[p['id']]})" if p["id"] in declared_by else ")")
        for p in found
    )
    where = props.get("stack_file") or "the stack file"
    return (
        f"{len(found)} existing Railway projects could be project {props['name']!r}: {listed}. Nothing was "
        f"created: set {ADOPT_KEY} in {where} to the id of the one to use (or give the stack a "
        "railway.project_name of its own), then run `./mvs up <stack>` again"
    )


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
        sibling_ids: dict[str, str] | None = None,
        stack_file: str | None = None,
        opts=None,
    ):
        # sibling_ids (project id -> the stack file declaring it) and stack_file only guide a create:
        # they are not compared by diff(), so a sibling's edit never touches this stack's project.
        props = {
            "adopt_id": adopt_id,
            "name": project_name,
            "description": description,
            "first_environment": first_environment,
            "sibling_ids": sibling_ids or {},
            "stack_file": stack_file,
            "project_id": None,
        }
        super().__init__(ProjectProvider(), name, props, opts)
