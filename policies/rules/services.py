"""Services: every long-running one is checked and comes back from a crash, but not forever; cron
jobs run once per tick; on prod, public services survive losing one replica.

Read from each service's Railway settings (ServiceInstance: health check path and timeout,
restart policy and retries, replicas, region, cron schedule, pre-deploy command) and from each
Docker container (healthcheck, restart, maxRetryCount). The database and the backup jobs are the
components' own: Railway's health checks are HTTP, which Postgres does not speak, so there they
are held to restarting at all; their containers on Docker have health checks like any other.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity, StackValidationArgs

from ..contract import Context, resource_context, resource_policy, stack_context, stack_policy
from ..declaration import (
    CUSTOM_DOMAIN,
    DOCKER_CONTAINER,
    POSTGRES_REFERENCE,
    SERVICE_DOMAIN,
    SERVICE_INSTANCE,
    VARIABLES,
    Part,
    part_of,
    stack_resources,
)
from ..values import UNKNOWN, known, plain

MAX_RESTART_RETRIES = 10  # a crash loop gives up within minutes instead of running up a bill
PROD_PUBLIC_REPLICAS = 2
BOUNDED = f"long-running services restart on failure with 1 to {MAX_RESTART_RETRIES} retries, so a crash is retried"
BOUNDED += " and a crash loop ends"
CHECKED = "every long-running service has a health check, so a deployment that never serves fails instead of going live"


def _settings(args: ResourceValidationArgs, stack: str, resource_type: str) -> tuple[Part, dict[str, Any]] | None:
    if args.resource_type != resource_type:
        return None
    props = plain(args.props)
    part = part_of(args.resource_type, args.name, stack, props)
    return (part, props) if part is not None else None


def is_cron(props: dict[str, Any]) -> bool:
    """A service that runs on a schedule and exits (unknown counts as not: its other rules then apply)."""
    schedule = props.get("cron_schedule")
    return known(schedule) and bool(schedule)


def replicas(props: dict[str, Any]) -> Any:
    """How many replicas a service's settings ask for, over every region (UNKNOWN if not known)."""
    placement = props.get("multi_region_config")
    if isinstance(placement, dict) and placement:
        counts = [r.get("numReplicas", 1) if isinstance(r, dict) else UNKNOWN for r in placement.values()]
        return sum(counts) if known(*counts) else UNKNOWN
    return props.get("num_replicas", 1)


def health_checked(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    railway = _settings(args, ctx.stack, SERVICE_INSTANCE)
    if railway is not None:
        part, props = railway
        path, timeout = props.get("healthcheck_path"), props.get("healthcheck_timeout")
        if not part.declared or is_cron(props) or not known(path, timeout):
            return
        if not path:
            ctx.report(part.key("health_check"), f"reaches {args.name} without a health check path; {CHECKED}")
        elif not timeout or timeout <= 0:
            ctx.report(part.key("health_check"), f"reaches {args.name} without a health check timeout; {CHECKED}")
        return
    docker = _settings(args, ctx.stack, DOCKER_CONTAINER)
    if docker is None:
        return
    part, props = docker
    check = props.get("healthcheck")
    if not known(check):
        return
    tests = (check or {}).get("test")
    retries = (check or {}).get("retries", 1)
    if not known(tests, retries):
        return
    key = part.key("health_check") if part.declared else part.key()
    whose = "" if part.declared else " (the components set it)"
    if not tests or tests[0] == "NONE":
        ctx.report(key, f"leaves container {args.name} without a health check{whose}; {CHECKED}")
    elif retries < 1:
        ctx.report(key, f"gives container {args.name} a health check that never retries{whose}; {CHECKED}")


def _railway_restart(ctx: Context, args: ResourceValidationArgs, part: Part, props: dict[str, Any]) -> None:
    policy, retries = props.get("restart_policy_type"), props.get("restart_policy_max_retries")
    if not known(policy, retries):
        return
    if not part.declared:
        if part.kind == "database" and policy not in ("ON_FAILURE", "ALWAYS"):
            ctx.report(part.key(), f"runs with restart policy {policy} on {args.name}; the database always comes back")
        return
    if policy == "ON_FAILURE" and retries is not None and 1 <= retries <= MAX_RESTART_RETRIES:
        return
    found = {
        "ALWAYS": "always (Railway restarts it without a bound)",
        "NEVER": "never (one crash leaves it down)",
    }.get(policy, f"on_failure with max_retries {retries}" if policy == "ON_FAILURE" else f"{policy}")
    ctx.report(part.key("restart"), f"is {found}; {BOUNDED}")


def _docker_restart(ctx: Context, args: ResourceValidationArgs, part: Part, props: dict[str, Any]) -> None:
    restart = props.get("restart")
    if not known(restart):
        return
    restart = restart if isinstance(restart, dict) else {"policy": restart}
    policy, retries = restart.get("policy"), restart.get("max_retries", 0)
    if not known(policy, retries):
        return
    if not part.declared:
        if policy in (None, "", "no"):
            ctx.report(part.key(), f"runs container {args.name} without a restart policy (the components set it)")
        return
    if policy == "on-failure" and 1 <= retries <= MAX_RESTART_RETRIES:
        return
    found = {
        "always": "always (Docker restarts it without a bound)",
        "unless-stopped": "unless-stopped (Docker restarts it without a bound)",
        "no": "never (one crash leaves it down)",
        None: "not set (one crash leaves it down)",
    }.get(policy, f"on_failure with max_retries {retries}" if policy == "on-failure" else f"{policy}")
    ctx.report(part.key("restart"), f"is {found}; {BOUNDED}")


def restart_bounded(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    railway = _settings(args, ctx.stack, SERVICE_INSTANCE)
    if railway is not None and not is_cron(railway[1]):
        _railway_restart(ctx, args, *railway)
    docker = _settings(args, ctx.stack, DOCKER_CONTAINER)
    if docker is not None:
        _docker_restart(ctx, args, *docker)


def cron_runs_once(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    railway = _settings(args, ctx.stack, SERVICE_INSTANCE)
    if railway is None or not is_cron(railway[1]):
        return
    part, props = railway
    whose = "" if part.declared else " (the components set the job's settings)"
    count = replicas(props)
    if known(count) and count != 1:
        key = part.key("replicas") if part.declared else part.schedule_key()
        ctx.report(key, f"runs {args.name} as a cron job with {count} replicas{whose}; a cron job runs one replica")
    policy = props.get("restart_policy_type")
    if known(policy) and policy == "ALWAYS":
        key = part.key("restart") if part.declared else part.schedule_key()
        ctx.report(key, f"restarts cron job {args.name} always{whose}; a cron job never restarts after it succeeded")


def prod_regions_set(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    railway = _settings(args, ctx.stack, SERVICE_INSTANCE) if ctx.prod else None
    if railway is None:
        return
    part, props = railway
    region = props.get("region")
    if part.declared and not is_cron(props) and known(region) and not region:
        ctx.report(
            part.key("region"),
            "is not set; on prod every service names its region, so Railway's default cannot move it (and its "
            "distance to the database) under it",
        )


def prod_public_replicas(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(args, report_violation)
    if not ctx.prod:
        return
    registered = stack_resources(args.resources, ctx.stack)
    public = {r.part for r in registered if r.type in (SERVICE_DOMAIN, CUSTOM_DOMAIN) and r.part.declared}
    for r in registered:
        if r.type != SERVICE_INSTANCE or r.part not in public or is_cron(r.props):
            continue
        count = replicas(r.props)
        if known(count) and count < PROD_PUBLIC_REPLICAS:
            ctx.report(
                r.part.key("replicas"),
                f"is {count}; public services on prod run at least {PROD_PUBLIC_REPLICAS} replicas, so one crash "
                "or one deploy never takes the service down",
                r.urn,
            )


def migrations_before_deploy(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(args, report_violation)
    registered = stack_resources(args.resources, ctx.stack)
    using_database: dict[Part, str] = {}
    for r in registered:
        variables = r.props.get("variables")
        if r.type != VARIABLES or not r.part.declared or not isinstance(variables, dict):
            continue
        names = sorted(k for k, v in variables.items() if known(v) and POSTGRES_REFERENCE in str(v))
        if names:
            using_database[r.part] = names[0]
    for r in registered:
        if r.type != SERVICE_INSTANCE or r.part not in using_database or is_cron(r.props):
            continue
        command = r.props.get("pre_deploy_command")
        if known(command) and not command:
            ctx.report(
                r.part.key("pre_deploy_command"),
                f"is not set, yet {r.part.name} uses the database ({using_database[r.part]}); a service that uses "
                "the database runs its migrations before it deploys, so new code never meets an old schema",
                r.urn,
            )


POLICIES = [
    resource_policy(
        "services-health-checked",
        "Every long-running service has a health check (Railway: a path and a timeout; Docker: a check command).",
        Severity.HIGH,
        health_checked,
    ),
    resource_policy(
        "services-restart-bounded",
        f"Long-running services restart on failure with 1 to {MAX_RESTART_RETRIES} retries; the database always "
        "restarts.",
        Severity.HIGH,
        restart_bounded,
    ),
    resource_policy(
        "cron-jobs-run-once",
        "A cron service runs one replica and never restarts after it succeeded.",
        Severity.MEDIUM,
        cron_runs_once,
    ),
    resource_policy(
        "prod-regions-set",
        "On prod, every long-running service names its Railway region.",
        Severity.MEDIUM,
        prod_regions_set,
    ),
    stack_policy(
        "prod-public-replicas",
        f"On prod, every public service (one with a domain) runs at least {PROD_PUBLIC_REPLICAS} replicas.",
        Severity.HIGH,
        prod_public_replicas,
    ),
    stack_policy(
        "migrations-before-deploy",
        "A Railway service that uses the database runs a pre-deploy command (its migrations).",
        Severity.MEDIUM,
        migrations_before_deploy,
    ),
]
