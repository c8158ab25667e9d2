"""Custom domains: the rules Railway applies when a domain is attached, checked before `up`.

Railway attaches a custom domain to one service in one environment, and refuses it anywhere
else ("Domain is already in use"); it refuses domains under its own zones too. An `up` that
meets either refusal has already written everything declared before that domain, so the
declaration must be refused first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# Zones Railway owns: it names public services under up.railway.app itself and resolves
# <service>.railway.internal on the private network; neither can be a custom domain.
RAILWAY_ZONES = ("railway.app", "railway.internal")

# (key path relative to the declaration, what was found, what is allowed)
Finding = tuple[str, str, str]


def declared_domains(raw: Any) -> Iterator[tuple[str, str]]:
    """(key path, lowercase domain) for every custom domain in a raw declaration, in file order."""
    services = raw.get("services") if isinstance(raw, Mapping) else None
    for name, service in (services if isinstance(services, Mapping) else {}).items():
        domains = service.get("custom_domains") if isinstance(service, Mapping) else None
        for i, domain in enumerate(domains if isinstance(domains, list) else []):
            if isinstance(domain, str):
                yield f"services.{name}.custom_domains[{i}]", domain.lower().rstrip(".")


def railway_zone(domain: str) -> str | None:
    return next((zone for zone in RAILWAY_ZONES if domain == zone or domain.endswith("." + zone)), None)


def check_domains(raw: Mapping[str, Any]) -> Iterator[Finding]:
    """Each domain declared once in the stack, and none in Railway's own zones."""
    first: dict[str, str] = {}
    for key, domain in declared_domains(raw):
        zone = railway_zone(domain)
        if zone is not None:
            yield (
                key,
                f"{domain!r}, a name in Railway's own zone {zone}",
                "a domain you own: Railway names each public service under up.railway.app itself",
            )
        if domain in first:
            yield (
                key,
                f"{domain!r}, which {first[domain]} also declares",
                "each custom domain once: Railway attaches a domain to one service and refuses it a second time",
            )
        else:
            first[domain] = key
