"""The one command every message names for setting a secret: `./mvs secrets set STACK NAME`.

It works on a fresh clone (it creates the stack's state when there is none yet), reads the value
from stdin or a prompt (never from the command line, where the process list would show it) and
warns when the value is encrypted with a passphrase other checkouts do not share. Messages from
validation, the policies, the Pulumi program and `./mvs` all name it through this function, so
they cannot drift apart.
"""

from __future__ import annotations

HOW_THE_VALUE_IS_READ = "it reads the value from stdin, or asks for it"


def set_secret_command(stack: str, name: str) -> str:
    """The command, in backquotes, for setting secret `name` of `stack`."""
    return f"`./mvs secrets set {stack} {name}`"


def set_secret_advice(stack: str, name: str) -> str:
    """The command and how it takes the value, for the end of a message."""
    return f"{set_secret_command(stack, name)} ({HOW_THE_VALUE_IS_READ})"
