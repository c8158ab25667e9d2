"""The pack's entry point: `pulumi preview --policy-pack policies` runs this file.

It only builds the pack. Building a PolicyPack starts the analyzer's gRPC server and blocks, so
nothing may import this module: tests call the rules in policies.rules directly. The language
host runs it from this directory, so the project root goes on the path first: the rules use the
project's own reading of images and cron schedules (components/spec).

Without a --policy-pack-config every rule is mandatory; `./mvs` passes one per stack (README.md).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.rules import POLICIES

PolicyPack("mvs", POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
