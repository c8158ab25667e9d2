"""The database's data: protected on prod, backed up and proven restorable, never shrunk, never
on the internet.

Read from the database's resources (their `protect` option), the backup jobs' settings and
variables (cron schedules, BACKUP_DESTINATION, RETAIN_DAILY; never the keys beside them), the
volume's backup schedules, the volume's size and the size its provider read on Railway
(`railway_size_mb`, carried by its check), domains and variables that would reach the database
from outside, and the ports the database container publishes.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity, StackValidationArgs

from components.spec import CONFIG_KEY

from ..contract import Context, resource_context, resource_policy, stack_context, stack_policy
from ..declaration import (
    BACKUP_SCHEDULES,
    CUSTOM_DOMAIN,
    DEPLOYMENT,
    DOCKER_CONTAINER,
    DOCKER_VOLUME,
    ENVIRONMENT,
    SERVICE,
    SERVICE_DOMAIN,
    SERVICE_INSTANCE,
    VARIABLES,
    VOLUME,
    Registered,
    part_of,
    stack_resources,
)
from ..schedules import describe, longest_gap
from ..values import known, plain

KEPT_WITH_THE_DATABASE = (SERVICE, SERVICE_INSTANCE, VARIABLES, DEPLOYMENT, VOLUME, BACKUP_SCHEDULES)
KEPT_WITH_THE_DATA_LOCALLY = (DOCKER_CONTAINER, DOCKER_VOLUME)
DUMP_AT_LEAST_EVERY = timedelta(days=1)
DRILL_AT_LEAST_EVERY = timedelta(days=7)
PROD_DAILY_DUMPS_KEPT = 7
OFF_SITE = ("s3://",)
LOOPBACK = ("127.0.0.1", "::1", "localhost")
PUBLIC_PROXY = ("DATABASE_PUBLIC_URL", "RAILWAY_TCP_PROXY_")  # what only a public TCP proxy gives Postgres
DEFAULT_SIZE_KEY, DEFAULT_UNIT_MB = "database.volume_size_gb", 1000


def prod_data_protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    if not ctx.prod:
        return
    part = part_of(args.resource_type, args.name, ctx.stack, plain(args.props))
    if part is None or args.opts.protect:
        return
    database = part.kind == "database" and args.resource_type in KEPT_WITH_THE_DATABASE + KEPT_WITH_THE_DATA_LOCALLY
    if not (database or args.resource_type == ENVIRONMENT):
        return
    what = args.resource_type.rsplit(":", 1)[-1]
    ctx.report(
        "database.protect",
        f"leaves {args.name} ({what}) unprotected; on prod the database, its volume and everything it needs to "
        "start are protected, so no routine up or destroy can delete them",
    )


def _local_jobs(job: Registered) -> dict[str, Any]:
    """What the dev-style backup container runs: its schedules and destination, from its command and env."""
    command, envs = job.props.get("command"), job.props.get("env")
    found: dict[str, Any] = {}
    if isinstance(command, list):
        for flag, name in (("--backup-cron", "dump"), ("--verify-cron", "drill")):
            if flag in command and command.index(flag) + 1 < len(command):
                found[name] = command[command.index(flag) + 1]
    if isinstance(envs, list):
        for entry in envs:
            name, _, value = str(entry).partition("=")
            if name in ("BACKUP_DESTINATION", "RETAIN_DAILY"):
                found[name] = value
    return found


def _schedule(ctx: Context, key: str, schedule: Any, every: timedelta, what: str, urn: str | None) -> None:
    if not known(schedule):
        return
    if not schedule:
        ctx.report(key, f"is not set; on prod {what} runs at least every {describe(every)}", urn)
        return
    gap = longest_gap(schedule)
    if gap > every:
        ctx.report(
            key,
            f"is {schedule!r}, up to {describe(gap)} between runs; "
            f"on prod {what} runs at least every {describe(every)}",
            urn,
        )


def prod_backups(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    ctx = stack_context(args, report_violation)
    if not ctx.prod:
        return
    registered = stack_resources(args.resources, ctx.stack)
    railway = [r for r in registered if r.type in (SERVICE_INSTANCE, VARIABLES, BACKUP_SCHEDULES)]
    local = [r for r in registered if r.type == DOCKER_CONTAINER and r.part.kind == "backup"]
    found: dict[str, Any] = {}
    urns: dict[str, str] = {}
    for r in railway:
        if r.type == SERVICE_INSTANCE and r.part.kind in ("backup", "drill"):
            name = "dump" if r.part.kind == "backup" else "drill"
            found[name], urns[name] = r.props.get("cron_schedule"), r.urn
        elif r.type == VARIABLES and r.part.kind == "backup" and isinstance(r.props.get("variables"), dict):
            variables = r.props["variables"]
            found.update({k: variables[k] for k in ("BACKUP_DESTINATION", "RETAIN_DAILY") if k in variables})
            urns["BACKUP_DESTINATION"] = urns["RETAIN_DAILY"] = r.urn
        elif r.type == BACKUP_SCHEDULES and r.part.kind == "database":
            found["volume_schedules"], urns["volume_schedules"] = r.props.get("kinds"), r.urn
    for job in local:
        found.update(_local_jobs(job))
        urns.update(dict.fromkeys(("dump", "drill", "BACKUP_DESTINATION", "RETAIN_DAILY"), job.urn))
    if "dump" not in found and "drill" not in found:
        ctx.report(
            "backups.enabled",
            "is off (no backup job is registered); prod takes a logical dump at least daily, proves it with a "
            "restore drill at least weekly and keeps it off-site",
        )
        return
    _schedule(ctx, "backups.dump_schedule", found.get("dump"), DUMP_AT_LEAST_EVERY, "a logical dump", urns.get("dump"))
    drill = found.get("drill")
    _schedule(ctx, "backups.verify_schedule", drill, DRILL_AT_LEAST_EVERY, "the restore drill", urns.get("drill"))
    destination = found.get("BACKUP_DESTINATION")
    if known(destination) and not str(destination or "").startswith(OFF_SITE):
        ctx.report(
            "backups.destination",
            f"is {destination or 'not set'}; prod's dumps go off-site (an S3 bucket), not beside the database",
            urns.get("BACKUP_DESTINATION"),
        )
    kept = found.get("RETAIN_DAILY")
    if known(kept) and kept is not None and (not str(kept).isdigit() or int(kept) < PROD_DAILY_DUMPS_KEPT):
        ctx.report(
            "backups.retention.daily",
            f"is {kept}; prod keeps at least {PROD_DAILY_DUMPS_KEPT} daily dumps",
            urns.get("RETAIN_DAILY"),
        )
    if railway:
        kinds = found.get("volume_schedules") or []
        if known(kinds) and "DAILY" not in kinds:
            ctx.report(
                "backups.volume_schedules",
                f"is {sorted(kinds)}; on prod Railway's own volume backups include DAILY",
                urns.get("volume_schedules"),
            )


def volumes_never_shrink(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    if args.resource_type != VOLUME:
        return
    props = plain(args.props)
    wanted, on_railway, declared = props.get("size_mb"), props.get("railway_size_mb"), props.get("declared_as")
    if not known(wanted, on_railway, declared) or wanted is None or on_railway is None or wanted >= on_railway:
        return
    declared = declared if isinstance(declared, dict) else {}
    key = str(declared.get("key") or DEFAULT_SIZE_KEY).removeprefix(f"{CONFIG_KEY}.")
    unit = declared.get("unit_mb") or DEFAULT_UNIT_MB
    ctx.report(
        key,
        f"is {wanted / unit:g}, below the {on_railway} MB volume {args.name} has on Railway; volumes never shrink: "
        f"set it to at least {math.ceil(on_railway / unit)}",
    )


def _public_proxy(text: Any) -> bool:
    return known(text) and any(marker in str(text) for marker in PUBLIC_PROXY)


def database_not_public(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    props = plain(args.props)
    part = part_of(args.resource_type, args.name, ctx.stack, props)
    if part is None:
        return
    private = "the database is reached on the private network only, never through a public domain or TCP proxy"
    if args.resource_type in (SERVICE_DOMAIN, CUSTOM_DOMAIN) and part.kind == "database":
        ctx.report("database", f"gets a public domain ({args.name}); {private}")
    elif args.resource_type == VARIABLES and isinstance(props.get("variables"), dict):
        for name, value in sorted(props["variables"].items()):
            if _public_proxy(name) or _public_proxy(value):
                key = part.key(f"env.{name}") if part.declared else part.key()
                ctx.report(key, f"points {args.name} at the database's public TCP proxy ({name}); {private}")
    elif args.resource_type == DOCKER_CONTAINER and part.kind == "database" and isinstance(props.get("ports"), list):
        for port in props["ports"]:
            ip = port.get("ip") if isinstance(port, dict) else None
            if known(ip) and ip not in LOOPBACK:
                ctx.report("database.host_port", f"publishes Postgres on {ip or 'every interface'}; {private}")


POLICIES = [
    resource_policy(
        "prod-data-protected",
        "On prod, the database, its volume, its backup schedules and its environment are protected from deletion.",
        Severity.CRITICAL,
        prod_data_protected,
    ),
    stack_policy(
        "prod-backups",
        "On prod, backups are on: a logical dump at least daily to an off-site destination (7 daily kept), a restore "
        "drill at least weekly, and Railway's volume backups including DAILY.",
        Severity.CRITICAL,
        prod_backups,
    ),
    resource_policy(
        "volumes-never-shrink",
        "A volume is never declared smaller than it is on Railway.",
        Severity.CRITICAL,
        volumes_never_shrink,
    ),
    resource_policy(
        "database-not-public",
        "The database is never exposed: no public domain or TCP proxy, and on Docker published on loopback only.",
        Severity.CRITICAL,
        database_not_public,
    ),
]
