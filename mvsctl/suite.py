"""`./mvs test [--fast] [PYTEST ARGS ...]`: the pytest command line the suite runs with.

- Both cores: pytest-xdist workers with `--dist loadgroup`; tests/scheduling.py gives every test
  its group (the Docker engine's tests on one worker, every other module whole on one) and puts
  the costly groups first, which `--no-loadscope-reorder` keeps. MVS_TEST_WORKERS sets how many
  workers (default: one more than there are cores); `-n`/`--numprocesses` or `-p no:xdist` given by
  the caller (on the command line or in PYTEST_ADDOPTS) wins.
- `--fast`: the tests that need no server process, no Docker engine and no Pulumi CLI
  (`-m "not slow"`), for the inner loop.
- The 15 slowest tests are listed at the end (unless the caller gives `--durations`), so every
  run, CI's included, shows where the time goes.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from itertools import pairwise

from components.errors import SettingInvalid

FAST_FLAG = "--fast"
WORKERS_ENV = "MVS_TEST_WORKERS"
SLOWEST_SHOWN = 15


def default_workers(cpu_count: int | None) -> int:
    """One worker more than there are cores: much of the suite waits (on deployments, alert
    timers, containers), and a third worker on two cores keeps both busy (CI on this kind of
    machine: 19.1 minutes with two workers, 15.5 with three)."""
    return (cpu_count or 1) + 1


def workers(environ: Mapping[str, str], cpu_count: int | None) -> str:
    """How many workers: MVS_TEST_WORKERS (a whole number, at least 1), or default_workers."""
    chosen = environ.get(WORKERS_ENV, "").strip()
    if not chosen:
        return str(default_workers(cpu_count))
    if not chosen.isdigit() or int(chosen) < 1:
        raise SettingInvalid(
            f"{WORKERS_ENV}={chosen!r}: it takes a whole number of test workers, at least 1; "
            f"unset it for one more than the cores ({default_workers(cpu_count)} here)"
        )
    return chosen


def _given(args: Sequence[str], *options: str) -> bool:
    """Whether an option is among `args`: `--long`, `--long=V`, `-s` or `-sV`."""
    return any(
        arg == option or arg.startswith(f"{option}=") or (not option.startswith("--") and arg.startswith(option))
        for arg in args
        for option in options
    )


def _xdist_disabled(args: Sequence[str]) -> bool:
    return any(
        (arg == "-p" and following == "no:xdist") or arg == "-pno:xdist" for arg, following in pairwise([*args, ""])
    )


def pytest_args(
    args: Sequence[str], environ: Mapping[str, str] | None = None, cpu_count: int | None = None
) -> list[str]:
    """The arguments for `python -m pytest`, from what `./mvs test` was given; SettingInvalid for
    a MVS_TEST_WORKERS it cannot use."""
    environ = os.environ if environ is None else environ
    given = [arg for arg in args if arg != FAST_FLAG]
    said = [*shlex.split(environ.get("PYTEST_ADDOPTS", "")), *given]  # what the caller chose, either way
    chosen: list[str] = []
    if FAST_FLAG in args:
        chosen += ["-m", "not slow"]
    if not (_given(said, "-n", "--numprocesses") or _xdist_disabled(said)):
        chosen += ["-n", workers(environ, cpu_count or os.cpu_count()), "--dist", "loadgroup", "--no-loadscope-reorder"]
    if not _given(said, "--durations"):
        chosen += [f"--durations={SLOWEST_SHOWN}"]
    return [*chosen, *given]
