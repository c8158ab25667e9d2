"""Rules that relate several parts of a declaration.

They run on the raw mapping, not on the validated model, so that they can report their problems
in the same message as the per-field problems: a user fixes everything in one pass. Every access
is guarded, because the raw data may be malformed in ways the field rules already report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from .domains import check_domains
from .images import tag_major
from .models import Monitoring
from .secret_command import set_secret_advice

SecretState = Literal["secret", "plaintext", "missing"]
# Answers "how is the secret with this name set in the stack?"; None skips secret checks.
SecretLookup = Callable[[str], SecretState] | None

DATABASE = "database"
# Names the environment gives its own parts: the database (also the `depends_on` keyword), its
# Postgres image (local), the backup jobs (railway services; the local backup container) and the
# monitoring containers and services (edge-metrics: Railway's edge exporter). A service of the same
# name registers a second resource under that name or asks Docker for a container name already
# taken: the `up` stops there, after writing what came before.
RESERVED_SERVICE_NAMES = (
    DATABASE,
    "postgres",
    "backup",
    "backup-verify",
    "prometheus",
    "grafana",
    "alertmanager",
    "pushgateway",
    "postgres-exporter",
    "edge-metrics",
)
MONITORING_DEFAULTS = Monitoring()
_SECRET_LOOKING = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIALS)")

# (key path relative to the declaration, what was found, what is allowed)
Finding = tuple[str, str, str]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def check_references(raw: Mapping[str, Any], secrets: SecretLookup, stack: str = "<stack>") -> list[Finding]:
    """Every cross-part problem in `raw`, each as (key path, found, allowed)."""
    return list(_check_all(raw, secrets, stack))


def _check_all(raw: Mapping[str, Any], secrets: SecretLookup, stack: str) -> Iterator[Finding]:
    target = raw.get("target")
    services = _mapping(raw.get("services"))
    release = _mapping(raw.get("release"))
    images = _mapping(release.get("images"))
    database = _mapping(raw.get("database"))
    monitoring = _mapping(raw.get("monitoring"))

    yield from _check_release_images(services, images)
    for name, service in services.items():
        yield from _check_service(target, str(name), _mapping(service), services, images)
    yield from _check_dependency_cycles(services)
    yield from _check_target_rules(target, services, database)
    if target == "railway":
        yield from check_domains(raw)
    yield from _check_backups(target, _mapping(raw.get("backups")))
    yield from _check_monitoring(target, monitoring)
    yield from _check_base(target, raw.get("base"), monitoring)
    if target == "local":
        yield from _check_host_ports(services, database, monitoring)
    if secrets is not None:
        yield from _check_secrets(services, database, monitoring, raw.get("backups"), secrets, stack, target)


def _check_base(target: Any, base: Any, monitoring: Mapping[str, Any]) -> Iterator[Finding]:
    if base != "debian":
        return
    if target == "railway":
        yield ("base", "debian on the railway target", "official: staging and prod always run the official images")
    elif monitoring.get("enabled"):
        yield (
            "base",
            "debian with monitoring.enabled",
            "official, or monitoring.enabled: false (the monitoring images are the official ones; Grafana "
            "has no Debian package)",
        )


def _check_release_images(services: Mapping[str, Any], images: Mapping[str, Any]) -> Iterator[Finding]:
    for name in images:
        if name not in services:
            yield (
                f"release.images.{name}",
                f"an image for unknown service {name!r}",
                f"images for declared services only: {', '.join(sorted(map(str, services))) or '(none declared)'}",
            )


def _check_service(
    target: Any, name: str, service: Mapping[str, Any], services: Mapping[str, Any], images: Mapping[str, Any]
) -> Iterator[Finding]:
    key = f"services.{name}"
    if name in RESERVED_SERVICE_NAMES:
        yield (
            key,
            f"a service named {name!r}, a name the environment gives its own parts",
            f"a name other than {', '.join(RESERVED_SERVICE_NAMES)}",
        )
    has_build = service.get("build") is not None
    has_image = name in images
    if has_build and has_image:
        yield (f"{key}.build", "both a build context and release.images." + name, "one of the two")
    if not has_build and not has_image:
        yield (
            f"release.images.{name}",
            "nothing",
            f"a pinned image for service {name!r} (or services.{name}.build on the local target)",
        )
    if has_build and target == "railway":
        yield (f"{key}.build", "a local build context", "on the railway target, an image from release.images")

    replicas = service.get("replicas", 1)
    if service.get("cron_schedule") is not None and isinstance(replicas, int) and replicas > 1:
        yield (f"{key}.replicas", f"{replicas} with a cron_schedule", "1: a cron service runs one replica at a time")

    depends_on = service.get("depends_on")
    for i, dep in enumerate(depends_on if isinstance(depends_on, list) else []):
        if not isinstance(dep, str):
            continue  # the model reports entries that are not names
        if dep == name:
            yield (f"{key}.depends_on[{i}]", repr(dep), "another service or 'database', not itself")
        elif dep != DATABASE and dep not in services:
            allowed = [*sorted(map(str, services.keys() - {name})), DATABASE]
            yield (f"{key}.depends_on[{i}]", repr(dep), f"one of: {', '.join(allowed)}")

    env = _mapping(service.get("env"))
    secret_env = _mapping(service.get("secrets"))
    for var in env:
        if isinstance(var, str) and _SECRET_LOOKING.search(var):
            yield (
                f"{key}.env.{var}",
                "a plaintext value for a secret-looking variable",
                f"services.{name}.secrets.{var}: <secret name>, set with "
                f"{set_secret_advice('<stack>', '<secret name>')}",
            )
        if var in secret_env:
            yield (f"{key}.env.{var}", "the same variable in env and secrets", "the variable in one of them")
    url_var = service.get("database_url_env")
    if isinstance(url_var, str) and (url_var in env or url_var in secret_env):
        yield (
            f"{key}.database_url_env",
            f"{url_var!r}, which env or secrets also sets",
            "a variable set only by the database wiring",
        )


def _check_dependency_cycles(services: Mapping[str, Any]) -> Iterator[Finding]:
    graph = {
        name: [d for d in (_mapping(s).get("depends_on") or []) if isinstance(d, str) and d in services and d != name]
        for name, s in services.items()
        if isinstance(_mapping(s).get("depends_on") or [], list)
    }
    state: dict[str, str] = {}
    reported: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> Iterator[Finding]:
        state[node] = "visiting"
        for dep in graph.get(node, []):
            if state.get(dep) == "visiting":
                cycle = [*path[path.index(dep) :], dep]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    yield (
                        f"services.{node}.depends_on",
                        f"a cycle: {' -> '.join(cycle)}",
                        "dependencies without cycles",
                    )
            elif dep not in state:
                yield from visit(dep, [*path, dep])
        state[node] = "done"

    for name in sorted(graph, key=str):
        if name not in state:
            yield from visit(name, [name])


def _check_target_rules(target: Any, services: Mapping[str, Any], database: Mapping[str, Any]) -> Iterator[Finding]:
    if target == "local":
        for name, service in services.items():
            service = _mapping(service)
            replicas = service.get("replicas", 1)
            if isinstance(replicas, int) and replicas > 1:
                yield (
                    f"services.{name}.replicas",
                    str(replicas),
                    "1 on the local target (one container per service; replicas are for railway)",
                )
            if service.get("pre_deploy_command") and not service.get("start_command"):
                yield (
                    f"services.{name}.start_command",
                    "nothing",
                    "a start command on the local target when pre_deploy_command is set (the container runs "
                    "the pre-deploy commands, then the start command)",
                )
            for railway_only in ("region", "cron_schedule", "custom_domains"):
                if service.get(railway_only) not in (None, []):
                    yield (
                        f"services.{name}.{railway_only}",
                        repr(service[railway_only]),
                        f"no {railway_only} on the local target (it is a Railway setting)",
                    )
        if database and database.get("image") is None:
            yield (
                "database.image",
                "nothing",
                "a pinned Postgres image on the local target, e.g. postgres:15.10-alpine",
            )
    elif target == "railway":
        for name, service in services.items():
            if _mapping(service).get("host_port") is not None:
                yield (f"services.{name}.host_port", str(service["host_port"]), "no host_port on the railway target")
        if database.get("host_port") is not None:
            yield ("database.host_port", str(database["host_port"]), "no host_port on the railway target")

    image, version = database.get("image"), database.get("version")
    if isinstance(image, str) and isinstance(version, int):
        major = tag_major(image)
        if major is not None and major != version:
            yield (
                "database.image",
                f"{image} (major {major})",
                f"an image of Postgres {version}, as database.version says",
            )


def _check_backups(target: Any, backups: Mapping[str, Any]) -> Iterator[Finding]:
    if not backups.get("enabled"):
        return
    destination = backups.get("destination")
    for required in ("destination", "dump_schedule"):
        if backups.get(required) is None:
            yield (f"backups.{required}", "nothing", f"a {required.replace('_', ' ')} when backups are enabled")
    kind = _mapping(destination).get("kind")
    wanted = {"local": "directory", "railway": "s3"}.get(target)
    if wanted and kind and kind != wanted:
        yield ("backups.destination.kind", repr(kind), f"{wanted!r} on the {target} target")
    if target == "local" and backups.get("volume_schedules"):
        yield ("backups.volume_schedules", repr(backups["volume_schedules"]), "none on the local target (Railway only)")


def _check_monitoring(target: Any, monitoring: Mapping[str, Any]) -> Iterator[Finding]:
    """Alerts nobody receives are not monitoring: a railway stack that enables it names a receiver.
    The local target may go without (its alerts show in Prometheus and Alertmanager)."""
    if target != "railway" or monitoring.get("enabled") is not True:
        return
    receivers = monitoring.get("receivers")
    if receivers is not None and not isinstance(receivers, Mapping):
        return  # the model reports a receivers value that is not a mapping
    if not any(_mapping(receivers).get(kind) is not None for kind in ("webhook_url_secret", "slack", "email")):
        yield (
            "monitoring.receivers",
            "no receiver" if receivers is not None else "nothing",
            "at least one of webhook_url_secret, slack or email when monitoring is enabled on the railway target",
        )


def _receiver_secret_refs(monitoring: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(key, secret name) for every secret the declared alert receivers name."""
    receivers = _mapping(monitoring.get("receivers"))
    yield "monitoring.receivers.webhook_url_secret", receivers.get("webhook_url_secret")
    yield "monitoring.receivers.slack.webhook_url_secret", _mapping(receivers.get("slack")).get("webhook_url_secret")
    yield "monitoring.receivers.email.password_secret", _mapping(receivers.get("email")).get("password_secret")


def _published_ports(
    services: Mapping[str, Any], database: Mapping[str, Any], monitoring: Mapping[str, Any]
) -> Iterator[tuple[str, Any]]:
    """(key that sets it, host port) for every port the local target publishes."""
    for name, service in services.items():
        service = _mapping(service)
        if service.get("host_port") is not None:
            yield f"services.{name}.host_port", service["host_port"]
        elif service.get("public", True):
            yield f"services.{name}.port", service.get("port")
    yield "database.host_port", database.get("host_port")
    if monitoring.get("enabled"):
        for field in ("prometheus_host_port", "grafana_host_port", "alertmanager_host_port"):
            yield f"monitoring.{field}", monitoring.get(field, getattr(MONITORING_DEFAULTS, field))


def published_ports(spec: Any) -> list[tuple[str, int]]:
    """(declaration key, host port) for every port a validated local declaration publishes on
    127.0.0.1: what `./mvs up` checks is free before anything is created."""
    found = _published_ports(
        {name: service.model_dump() for name, service in spec.services.items()},
        spec.database.model_dump(),
        spec.monitoring.model_dump(),
    )
    return [(key, port) for key, port in found if isinstance(port, int)]


def _check_host_ports(
    services: Mapping[str, Any], database: Mapping[str, Any], monitoring: Mapping[str, Any]
) -> Iterator[Finding]:
    seen: dict[int, str] = {}
    for key, port in _published_ports(services, database, monitoring):
        if not isinstance(port, int):
            continue
        if port in seen:
            yield (key, f"port {port}, already published by {seen[port]}", "a host port used once")
        else:
            seen[port] = key


NOT_SHOWN = "named by a text that is not shown (it does not read like a name: it may be the secret itself)"
# A secret's name: words in camelCase, snake_case or kebab-case, the last of which says what it
# names (`dbPassword`, `backup_secret_key`, `railwayToken`).
NAME_SHAPE = re.compile(r"[a-z][A-Za-z0-9_-]{0,39}")
WORD = re.compile(r"[A-Z]?[a-z0-9]+")
SECRET_NOUNS = {"password", "secret", "key", "token", "pass", "credential", "credentials", "url"}  # url: webhooks


def reads_like_a_name(text: str) -> bool:
    """A secret's name is echoed in messages only when it reads like one: a value pasted where the
    name belongs must never be printed back, and a name says what it names."""
    if not NAME_SHAPE.fullmatch(text):
        return False
    words = WORD.findall(text)
    spelled = "".join(words) == re.sub(r"[_-]", "", text)  # no runs of capitals, nothing left over
    return spelled and len(words) >= 2 and words[-1].rstrip("0123456789").lower() in SECRET_NOUNS


def _check_secrets(
    services: Mapping[str, Any],
    database: Mapping[str, Any],
    monitoring: Mapping[str, Any],
    raw_backups: Any,
    secrets: Callable[[str], SecretState],
    stack: str,
    target: Any = None,
) -> Iterator[Finding]:
    refs = [("database.password_secret", database.get("password_secret"))]
    backups = _mapping(raw_backups)
    destination = _mapping(backups.get("destination"))
    if backups.get("enabled") and destination.get("kind") == "s3":
        for field in ("access_key_secret", "secret_key_secret"):
            refs.append((f"backups.destination.{field}", destination.get(field)))
    if monitoring.get("enabled"):
        default = MONITORING_DEFAULTS.grafana_admin_secret
        refs.append(("monitoring.grafana_admin_secret", monitoring.get("grafana_admin_secret", default)))
        refs.extend(_receiver_secret_refs(monitoring))
        edge = _mapping(monitoring.get("edge_metrics"))
        if target == "railway" and edge.get("enabled", MONITORING_DEFAULTS.edge_metrics.enabled):
            default = MONITORING_DEFAULTS.edge_metrics.token_secret
            refs.append(("monitoring.edge_metrics.token_secret", edge.get("token_secret", default)))
    for name, service in services.items():
        for var, ref in _mapping(_mapping(service).get("secrets")).items():
            refs.append((f"services.{name}.secrets.{var}", ref))
    for key, ref in refs:
        if not isinstance(ref, str):
            continue
        state = secrets(ref)
        shown = repr(ref) if reads_like_a_name(ref) else NOT_SHOWN
        advice = set_secret_advice(stack, ref if shown != NOT_SHOWN else "<name>")
        if state == "missing":
            yield (key, f"secret {shown}, which is not set", f"a set secret: {advice}")
        elif state == "plaintext":
            yield (key, f"secret {shown}, which is stored in plaintext", f"an encrypted value: {advice}")
