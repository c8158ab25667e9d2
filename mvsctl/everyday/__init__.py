"""The everyday commands the team knew from docker-compose, on every stack.

`./mvs ps STACK`, `./mvs logs STACK [SERVICE] [-f]` and `./mvs restart STACK SERVICE` mean the
same on dev (the local Docker engine, `local.py`) and on staging and prod (Railway's API,
`railway.py`); which one runs follows the stack's declared target. Each target module offers
`ps(stack, spec)`, `logs(stack, spec, service, follow, tail, since)` and `restart(stack, spec, service)`,
returning an exit code and raising `MvsError` for anything the operator must act on.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType

from components.spec import EnvironmentSpec

from . import log_lines

DEFAULT_TAIL = 200
MAX_SINCE_LINES = 5000  # Railway's most lines per request

COMPOSE_EQUIVALENT = {
    "ps": "docker-compose ps",
    "logs": "docker-compose logs [-f] [SERVICE]",
    "restart": "docker-compose restart SERVICE",
}


def target_module(spec: EnvironmentSpec) -> ModuleType:
    """The implementation for the stack's target, imported only when needed."""
    return importlib.import_module(f"{__name__}.{spec.target}")


def add_commands(commands: argparse._SubParsersAction, load_spec) -> None:
    """Register ps, logs and restart; `load_spec(stack)` returns the stack's validated declaration."""

    def run_ps(args: argparse.Namespace) -> int:
        spec = load_spec(args.stack)
        return target_module(spec).ps(args.stack, spec)

    def run_logs(args: argparse.Namespace) -> int:
        spec = load_spec(args.stack)
        since = log_lines.parse_since(args.since) if args.since else None
        tail = args.tail if args.tail is not None else (MAX_SINCE_LINES if since else DEFAULT_TAIL)
        return target_module(spec).logs(args.stack, spec, args.service, args.follow, tail, since)

    def run_restart(args: argparse.Namespace) -> int:
        spec = load_spec(args.stack)
        return target_module(spec).restart(args.stack, spec, args.service)

    ps = commands.add_parser(
        "ps", help=f"each service's state, health, image, release and URL ({COMPOSE_EQUIVALENT['ps']})"
    )
    ps.add_argument("stack")
    ps.set_defaults(run=run_ps)

    logs = commands.add_parser("logs", help=f"a service's logs ({COMPOSE_EQUIVALENT['logs']})")
    logs.add_argument("stack")
    logs.add_argument("service", nargs="?", help="default: every service")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    logs.add_argument(
        "--tail",
        type=int,
        metavar="N",
        help=f"how many recent lines to show first (default {DEFAULT_TAIL}; with --since, all of them)",
    )
    logs.add_argument("--since", metavar="WHEN", help="only lines written since: 10m, 2h, 1d, or 2026-12-07T09:30:00Z")
    logs.set_defaults(run=run_logs)

    restart = commands.add_parser("restart", help=f"restart one service ({COMPOSE_EQUIVALENT['restart']})")
    restart.add_argument("stack")
    restart.add_argument("service")
    restart.set_defaults(run=run_restart)
