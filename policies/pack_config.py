"""The `--policy-pack-config` file for one stack, as `./mvs` writes it (the contract in README.md).

Every rule gets the stack and its file, so messages name the right file; `all` sets the level
(advisory on dev, mandatory on staging and prod); a waived rule is made advisory and carries its
waiver, which it prints in front of everything it still finds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from .contract import WAIVER_PATTERN
from .rules import POLICIES

RULE_NAMES = tuple(policy.name for policy in POLICIES)


def pack_config(
    stack: str, file: str, enforcement: Literal["advisory", "mandatory"], waivers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The JSON document for `pulumi preview --policy-pack policies --policy-pack-config <file>`."""
    waivers = dict(waivers or {})
    unknown = sorted(set(waivers) - set(RULE_NAMES))
    if unknown:
        raise ValueError(f"no rule named {', '.join(unknown)}; the rules are: {', '.join(RULE_NAMES)}")
    malformed = sorted(rule for rule, text in waivers.items() if not re.match(WAIVER_PATTERN, text))
    if malformed:
        raise ValueError(f"a waiver reads `waived by <who>: <why>`; not so for {', '.join(malformed)}")
    config: dict[str, Any] = {"all": enforcement}
    for rule in RULE_NAMES:
        config[rule] = {"stack": stack, "file": file}
        if rule in waivers:
            config[rule].update({"enforcementLevel": "advisory", "waiver": waivers[rule]})
    return config
