"""Railway projects: staging and prod may share one, each in an environment of its own.

Read from the Environment resource: the name the component gives the environment, and the
environments the other stack files sharing the project use (`sibling_environments`, which the
component carries for this rule). Two stacks in one environment would overwrite each other's
services at every `up`.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from ..contract import resource_context, resource_policy
from ..declaration import ENVIRONMENT
from ..values import known, plain


def distinct_environments(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    if args.resource_type != ENVIRONMENT:
        return
    props = plain(args.props)
    name, siblings = props.get("name"), props.get("sibling_environments")
    if not known(name, siblings) or not isinstance(siblings, dict):
        return
    for file, theirs in sorted(siblings.items()):
        if theirs == name:
            ctx.report(
                "railway.environment",
                f"is {name!r}, which {file} also uses in the same Railway project; stacks share a project only in "
                "environments of their own, or each up overwrites the other's services",
            )


POLICIES = [
    resource_policy(
        "shared-project-distinct-environments",
        "Stacks that share a Railway project (staging and prod) each run in an environment of their own.",
        Severity.CRITICAL,
        distinct_environments,
    ),
]
