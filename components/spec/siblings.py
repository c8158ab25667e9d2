"""Rules across the stack files that live side by side.

Railway stacks share more than a repository: staging and prod live in one Railway project, and
a custom domain is Railway's to give once, whichever project asks. Each stack's `up` writes only
its own part, so a clash with a sibling shows only when Railway refuses it halfway through (or,
worse, when two stacks silently adopt the same environment). Each stack's validation therefore
reads its siblings' raw declarations and reports the clash in its own file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .domains import declared_domains

DEFAULT_PROJECT_NAME = "mvs"  # RailwaySettings.project_name's default

# (key path relative to the declaration, what was found, what is allowed)
Finding = tuple[str, str, str]


@dataclass(frozen=True)
class Sibling:
    """Another stack in the same directory: its name, its file as messages name it, its raw declaration."""

    stack: str
    file: str
    raw: Any


def _railway(raw: Any) -> Mapping[str, Any] | None:
    """The `railway` settings of a Railway-target declaration, or None for any other."""
    if not isinstance(raw, Mapping) or raw.get("target") != "railway":
        return None
    settings = raw.get("railway")
    return settings if isinstance(settings, Mapping) else {}


def environment_name(settings: Mapping[str, Any], stack: str) -> Any:
    """The Railway environment a stack lives in: its railway.environment, or the stack's name."""
    return settings.get("environment") or stack


def _project(settings: Mapping[str, Any]) -> tuple[Any, Any]:
    return settings.get("project_id"), settings.get("project_name", DEFAULT_PROJECT_NAME)


def shares_project(mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    """Whether two stacks end up in one project: the same adopted id, or (when at most one adopts
    an id) the same name, because the stack that creates by name and the stack that adopts both
    keep the project named as they declare it."""
    (my_id, my_name), (their_id, their_name) = _project(mine), _project(theirs)
    if my_id and their_id:
        return my_id == their_id
    return my_name == their_name


def shared_project_ids(mine: Mapping[str, Any], siblings: Sequence[Sibling]) -> dict[str, str]:
    """The project ids that sibling Railway stacks sharing this stack's project declare, each with
    the file declaring it: where a stack that creates its project by name finds it again."""
    found: dict[str, str] = {}
    for sibling in siblings:
        theirs = _railway(sibling.raw)
        if theirs is not None and theirs.get("project_id") and shares_project(mine, theirs):
            found.setdefault(str(theirs["project_id"]), sibling.file)
    return found


def shared_environments(mine: Mapping[str, Any], siblings: Sequence[Sibling]) -> dict[str, str]:
    """The environment each sibling Railway stack sharing this stack's project uses, by the file
    declaring it: what two stacks must never have in common."""
    found: dict[str, str] = {}
    for sibling in siblings:
        theirs = _railway(sibling.raw)
        if theirs is not None and shares_project(mine, theirs):
            found[sibling.file] = str(environment_name(theirs, sibling.stack))
    return found


def check_siblings(raw: Any, stack: str, siblings: Sequence[Sibling]) -> Iterator[Finding]:
    """Every clash between this Railway declaration and its sibling Railway stacks."""
    mine = _railway(raw)
    if mine is None:
        return
    railway_siblings = [(s, settings) for s in siblings if (settings := _railway(s.raw)) is not None]
    yield from _check_domains(raw, railway_siblings)
    for sibling, theirs in railway_siblings:
        if shares_project(mine, theirs):
            yield from _check_shared_project(mine, stack, sibling, theirs)


def _check_domains(raw: Any, siblings: list[tuple[Sibling, Mapping[str, Any]]]) -> Iterator[Finding]:
    """Railway gives a domain to one service in one environment of one project, across all projects."""
    taken = {domain: (s.file, key) for s, _ in reversed(siblings) for key, domain in declared_domains(s.raw)}
    for key, domain in declared_domains(raw):
        if domain in taken:
            file, their_key = taken[domain]
            yield (
                key,
                f"{domain!r}, which {file} also declares at {their_key}",
                "a domain no other Railway stack declares: Railway attaches a domain to one service "
                "in one environment and refuses it anywhere else",
            )


def _check_shared_project(
    mine: Mapping[str, Any], stack: str, sibling: Sibling, theirs: Mapping[str, Any]
) -> Iterator[Finding]:
    project = mine.get("project_id") or repr(_project(mine)[1])
    my_environment = environment_name(mine, stack)
    their_environment = environment_name(theirs, sibling.stack)
    if my_environment == their_environment:
        how = "" if mine.get("environment") else " (the stack's name, by default)"
        yield (
            "railway.environment",
            f"{my_environment!r}{how}, which {sibling.file} also uses in project {project}",
            "an environment of its own: two stacks in one environment overwrite each other's services",
        )
    my_id, my_name = _project(mine)
    their_id, their_name = _project(theirs)
    if my_id and my_id == their_id and my_name != their_name:
        yield (
            "railway.project_name",
            f"{my_name!r}, while {sibling.file} names project {my_id} {their_name!r}",
            f"the name {sibling.file} gives it: each up would rename the project back",
        )
