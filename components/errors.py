"""Every error this project raises on purpose, in one place.

The hierarchy (callers catch the narrowest one they can act on):

    MvsError                    base of everything below
    ├── DeclarationError        a stack's declaration is invalid; carries every Problem at once
    └── ToolError               an external command failed; carries the command, exit code, stderr

A DeclarationError is raised before any resource is registered or any API call is made, so
fixing the stack file and running again is always safe.
"""

from __future__ import annotations

from dataclasses import dataclass


class MvsError(Exception):
    """Base class for the project's own errors."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a declaration: where it is, what was there, what would be accepted."""

    file: str
    key: str
    found: str
    allowed: str

    def render(self) -> str:
        return f"{self.key}: found {self.found}; allowed: {self.allowed}"


class DeclarationError(MvsError):
    """A stack declaration is invalid. The message lists every problem, not just the first."""

    def __init__(self, problems: list[Problem]):
        if not problems:
            raise ValueError("a DeclarationError needs at least one problem")
        self.problems = sorted(set(problems))
        files = sorted({p.file for p in self.problems})
        count = len(self.problems)
        lines = [
            f"Invalid declaration in {', '.join(files)} "
            f"({count} problem{'s' if count != 1 else ''}); nothing was changed:"
        ]
        lines += [f"  - {p.render()}" for p in self.problems]
        super().__init__("\n".join(lines))


class ToolError(MvsError):
    """An external command failed. Says which command, how it ended and what it printed."""

    def __init__(self, command: list[str], exit_code: int, stderr: str, hint: str = ""):
        self.command = command
        self.exit_code = exit_code
        self.stderr = stderr
        message = f"`{' '.join(command)}` exited with code {exit_code}"
        if stderr.strip():
            message += f":\n{stderr.strip()}"
        if hint:
            message += f"\n{hint}"
        super().__init__(message)
