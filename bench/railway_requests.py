"""Railway requests and apply time for the prod stack, against the emulator.

    venv/bin/python -m bench.railway_requests [--latency-ms 100]

Prints the requests each operation sends (up from empty, no-op preview, no-op refresh,
one-variable change) from the emulator's request log, how many no-op drift checks an hour a Free
plan's 100 requests allow, and the time that injected latency on every
request adds to `up` from empty (best of --repeat fresh runs with and without it), next to the
critical-path bound: the depth of the resource dependency chain times the latency. The engine's
own start-up dominates the total, so the added time is the figure to compare. Numbers are
reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from mvsctl.loopback_s3 import create_bucket, loopback_s3
from railway_emulator.requestlog import read_log
from railway_emulator.server import DEFAULT_TOKEN, Emulator, EmulatorServer
from tests.engine.cli import PulumiCLI, copy_program

SECRETS = {
    "mvs:dbPassword": "bench-db",
    "mvs:sessionSecret": "bench-session",
    "mvs:backupAccessKey": "bench-access",
    "mvs:backupSecretKey": "bench-key",
}


RAILWAY = "pulumi-python:dynamic/railway:"
FREE_PLAN_REQUESTS_PER_HOUR = 100  # Railway's public API limit on the Free plan (facts/railway-api.md)


def world(tmp: Path, s3_endpoint: str) -> tuple[EmulatorServer, PulumiCLI, Path]:
    """A fresh emulator and stack; the backup bucket (read for `last_drill`) is moto on loopback."""
    log = tmp / "requests.jsonl"
    server = EmulatorServer(Emulator(log_path=log)).start()
    project = copy_program(tmp / "mvs")
    cli = PulumiCLI(project, tmp)
    cli.env.update({"RAILWAY_API_TOKEN": DEFAULT_TOKEN, "RAILWAY_API_ENDPOINT": server.url})
    cli.ok("stack", "init", "prod")
    for key, value in SECRETS.items():
        cli.ok("config", "set", "--secret", "--stack", "prod", key, input_text=value)
    cli.ok("config", "set", "--stack", "prod", "railway:pollSeconds", "0.01")
    cli.ok("config", "set", "--path", "--stack", "prod", "mvs:environment.backups.destination.endpoint", s3_endpoint)
    return server, cli, log


def measured(log: Path, action) -> tuple[int, Counter, float]:
    before = len(read_log(log))
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    entries = read_log(log)[before:]
    return len(entries), Counter(e["operation"] for e in entries), seconds


def chain_depth(resources: list[dict]) -> int:
    """Resources on the longest dependency chain among Railway resources."""
    by_urn = {r["urn"]: r for r in resources if r["type"].startswith(RAILWAY)}
    memo: dict[str, int] = {}

    def depth(urn: str) -> int:
        if urn not in memo:
            deps = [d for d in by_urn[urn].get("dependencies", []) if d in by_urn]
            memo[urn] = 1 + max((depth(d) for d in deps), default=0)
        return memo[urn]

    return max(depth(u) for u in by_urn)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with loopback_s3() as s3_endpoint:
        create_bucket(s3_endpoint, "mvs-backups", (SECRETS["mvs:backupAccessKey"], SECRETS["mvs:backupSecretKey"]))
        run(args, s3_endpoint)


def run(args: argparse.Namespace, s3_endpoint: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server, cli, log = world(Path(tmp), s3_endpoint)
        try:
            rows = []
            count, ops, _ = measured(log, lambda: cli.ok("up", "--yes", "--stack", "prod"))
            rows.append(("up from empty", count, ops))
            count, ops, _ = measured(log, lambda: cli.ok("preview", "--expect-no-changes", "--stack", "prod"))
            rows.append(("no-op preview", count, ops))
            count, ops, _ = measured(log, lambda: cli.ok("refresh", "--yes", "--skip-preview", "--stack", "prod"))
            rows.append(("no-op refresh", count, ops))
            cli.ok(
                "config", "set", "--path", "--stack", "prod", "mvs:environment.services.backend.env.LOG_LEVEL", "info"
            )
            count, ops, _ = measured(log, lambda: cli.ok("up", "--yes", "--stack", "prod"))
            rows.append(("one-variable change", count, ops))
            resources = cli.resources("prod")
        finally:
            server.stop()

    railway_resources = [r for r in resources if r["type"].startswith(RAILWAY)]
    depth = chain_depth(resources)
    print(f"prod stack: {len(railway_resources)} Railway resources, dependency chain depth {depth}")
    print(f"{'operation':<22}{'requests':>9}  by operation")
    for name, count, ops in rows:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(ops.items())) or "-"
        print(f"{name:<22}{count:>9}  {detail}")
    refresh_requests = next(count for name, count, _ in rows if name == "no-op refresh")
    checks = FREE_PLAN_REQUESTS_PER_HOUR // max(refresh_requests, 1)
    print(
        f"Free plan ({FREE_PLAN_REQUESTS_PER_HOUR} requests an hour in all): {checks} no-op drift checks an hour "
        f"({refresh_requests} requests each), one every {60 / checks:.1f} minutes with nothing else running"
    )

    no_latency = min(timed_up(0, s3_endpoint) for _ in range(args.repeat))
    with_latency = min(timed_up(args.latency_ms, s3_endpoint) for _ in range(args.repeat))
    bound = depth * args.latency_ms / 1000
    print(
        json.dumps(
            {
                "latency_ms": args.latency_ms,
                "repeat (best of)": args.repeat,
                "up_seconds_no_latency": round(no_latency, 2),
                "up_seconds_with_latency": round(with_latency, 2),
                "added_seconds": round(with_latency - no_latency, 2),
                "critical_path_bound_seconds": bound,
                "added_time_over_bound": round((with_latency - no_latency) / bound, 2),
            }
        )
    )


def timed_up(latency_ms: int, s3_endpoint: str) -> float:
    """Wall time of `up` from empty on a fresh emulator that delays every request."""
    with tempfile.TemporaryDirectory() as tmp:
        server, cli, log = world(Path(tmp), s3_endpoint)
        if latency_ms:
            server.emulator.faults.configure([{"kind": "latency", "latency_ms": latency_ms}])
        try:
            return measured(log, lambda: cli.ok("up", "--yes", "--stack", "prod"))[2]
        finally:
            server.stop()


if __name__ == "__main__":
    main()
