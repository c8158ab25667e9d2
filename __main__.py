"""The Pulumi program: read this stack's declaration, build its environment, export outputs.

The declaration is validated before any resource is registered; an invalid one ends the run
with one message listing every problem.
"""

from pathlib import Path

import pulumi

from components import engine_shutdown
from components.environment import build_environment
from components.errors import DeclarationError
from components.stack_config import load_from_pulumi

PROJECT_ROOT = Path(__file__).parent
engine_shutdown.install()  # an engine that stopped on a provider's error: its one line, no traceback

try:
    spec = load_from_pulumi(PROJECT_ROOT)
except DeclarationError as error:
    raise pulumi.RunError(str(error)) from None

build_environment(pulumi.get_stack(), spec, PROJECT_ROOT)
