"""Railway requests and apply time for the prod stack, against the emulator.

    venv/bin/python -m bench.railway_requests [--latency-ms 100] [--repeat 3] [--deploy-seconds 3]

Requests: what each operation sends (up from empty, no-op preview, no-op refresh, one-variable
change, and `./mvs up --yes` as it runs on Railway: refresh first, no second preview), from the
emulator's request log, and how many no-op drift checks an hour a Free plan's
100 requests allow. Deployments follow the emulator's clock (`/_emulator/lifecycle`), taking
`--deploy-seconds` each, and the providers poll at their default interval, so status reads are
counted as they would be against Railway rather than one per lifecycle step.

Apply time: `up` from empty on fresh emulators, best of --repeat runs without and with
--latency-ms added to every request. The engine's start-up and the deployments' own time are in
both, so the added time is the figure to compare with the critical-path bound:

    bound = latency x max over dependency chains of the sum of each resource's sequential requests

A resource's requests go one after another (one provider call makes them in order; a status read
shared by several deployments counts once for each deployment it answered), so no schedule can
finish a chain in less than its requests times the latency; the longest chain is the bound. Each
request names its resource (the `x-mvs-resource` header, providers/request_labels.py), and the
counts come from the run with latency itself. The bench prints that chain with its counts: the
gap between the added time and the bound is what the engine adds (its parallelism, waits that
could overlap). Numbers are reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from components.railway.providers.request_labels import label
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
STATUS_READ = "deploymentStatuses"
FREE_PLAN_REQUESTS_PER_HOUR = 100  # Railway's public API limit on the Free plan (facts/railway-api.md)


def world(tmp: Path, s3_endpoint: str, deploy_seconds: float) -> tuple[EmulatorServer, PulumiCLI, Path]:
    """A fresh emulator and stack; the backup bucket (read for `last_drill`) is moto on loopback."""
    log = tmp / "requests.jsonl"
    server = EmulatorServer(Emulator(log_path=log)).start()
    server.emulator.admin("POST", "/_emulator/lifecycle", json.dumps({"deploy_seconds": deploy_seconds}).encode())
    project = copy_program(tmp / "mvs")
    cli = PulumiCLI(project, tmp)
    cli.env.update({"RAILWAY_API_TOKEN": DEFAULT_TOKEN, "RAILWAY_API_ENDPOINT": server.url})
    cli.ok("stack", "init", "prod")
    for key, value in SECRETS.items():
        cli.ok("config", "set", "--secret", "--stack", "prod", key, input_text=value)
    cli.ok("config", "set", "--path", "--stack", "prod", "mvs:environment.backups.destination.endpoint", s3_endpoint)
    return server, cli, log


def measured(log: Path, action) -> tuple[list[dict], float]:
    before = len(read_log(log))
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    return read_log(log)[before:], seconds


def by_operation(entries: list[dict]) -> Counter:
    return Counter(e["operation"] for e in entries)


def sequential_requests(resources: list[dict], entries: list[dict]) -> dict[str, int]:
    """Each Railway resource's requests in the run (by URN): those labelled with it, plus every
    shared status read that answered its deployment."""
    labels = {label(r["type"].removeprefix(RAILWAY), r.get("inputs") or {}): r["urn"] for r in resources}
    deployments = {(r.get("outputs") or {}).get("deployment_id"): r["urn"] for r in resources}
    counts = Counter({r["urn"]: 0 for r in resources})
    for entry in entries:
        if entry["operation"] == STATUS_READ:
            for deployment_id in entry["variables"].values():
                if deployment_id in deployments:
                    counts[deployments[deployment_id]] += 1
        elif entry.get("resource") in labels:
            counts[labels[entry["resource"]]] += 1
    return dict(counts)


def critical_chain(resources: list[dict], weight: dict[str, int]) -> list[str]:
    """The dependency chain (URNs, first to last) whose resources' requests add up to the most."""
    by_urn = {r["urn"]: r for r in resources}
    memo: dict[str, tuple[int, list[str]]] = {}

    def heaviest(urn: str) -> tuple[int, list[str]]:
        if urn not in memo:
            deps = [d for d in by_urn[urn].get("dependencies", []) if d in by_urn]
            best = max((heaviest(d) for d in deps), default=(0, []))
            memo[urn] = (best[0] + weight.get(urn, 0), [*best[1], urn])
        return memo[urn]

    return max((heaviest(u) for u in by_urn), key=lambda found: found[0])[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--deploy-seconds", type=float, default=3.0)
    args = parser.parse_args()

    with loopback_s3() as s3_endpoint:
        create_bucket(s3_endpoint, "mvs-backups", (SECRETS["mvs:backupAccessKey"], SECRETS["mvs:backupSecretKey"]))
        run(args, s3_endpoint)


def run(args: argparse.Namespace, s3_endpoint: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server, cli, log = world(Path(tmp), s3_endpoint, args.deploy_seconds)
        try:
            rows = []
            entries, _ = measured(log, lambda: cli.ok("up", "--yes", "--stack", "prod"))
            rows.append(("up from empty", entries))
            entries, _ = measured(log, lambda: cli.ok("preview", "--expect-no-changes", "--stack", "prod"))
            rows.append(("no-op preview", entries))
            entries, _ = measured(log, lambda: cli.ok("refresh", "--yes", "--skip-preview", "--stack", "prod"))
            rows.append(("no-op refresh", entries))
            cli.ok(
                "config", "set", "--path", "--stack", "prod", "mvs:environment.services.backend.env.LOG_LEVEL", "info"
            )
            entries, _ = measured(log, lambda: cli.ok("up", "--yes", "--stack", "prod"))
            rows.append(("one-variable change", entries))
            # What `./mvs up prod --yes` runs on Railway (mvsctl: refresh first, no unattended preview).
            mvs_up = ("up", "--yes", "--refresh", "--skip-preview", "--stack", "prod")
            entries, _ = measured(log, lambda: cli.ok(*mvs_up))
            rows.append(("./mvs up, no-op", entries))
            cli.ok(
                "config", "set", "--path", "--stack", "prod", "mvs:environment.services.backend.env.LOG_LEVEL", "warn"
            )
            entries, _ = measured(log, lambda: cli.ok(*mvs_up))
            rows.append(("./mvs up, one variable", entries))
            resources = [r for r in cli.resources("prod") if r["type"].startswith(RAILWAY)]
        finally:
            server.stop()

    print(f"prod stack: {len(resources)} Railway resources; deployments take {args.deploy_seconds:g}s")
    print(f"{'operation':<22}{'requests':>9}  by operation")
    for name, entries in rows:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(by_operation(entries).items())) or "-"
        print(f"{name:<22}{len(entries):>9}  {detail}")
    refresh_requests = next(len(entries) for name, entries in rows if name == "no-op refresh")
    checks = FREE_PLAN_REQUESTS_PER_HOUR // max(refresh_requests, 1)
    print(
        f"Free plan ({FREE_PLAN_REQUESTS_PER_HOUR} requests an hour in all): {checks} no-op drift checks an hour "
        f"({refresh_requests} requests each), one every {60 / checks:.1f} minutes with nothing else running"
    )

    no_latency = min(timed_up(0, args.deploy_seconds, s3_endpoint)[0] for _ in range(args.repeat))
    runs = [timed_up(args.latency_ms, args.deploy_seconds, s3_endpoint) for _ in range(args.repeat)]
    with_latency, entries, resources = min(runs, key=lambda run_: run_[0])
    weight = sequential_requests(resources, entries)
    chain = critical_chain(resources, weight)
    sequential = sum(weight[urn] for urn in chain)
    bound = sequential * args.latency_ms / 1000
    added = with_latency - no_latency
    steps = " -> ".join(f"{urn.rsplit('::', 1)[-1]} {weight[urn]}" for urn in chain)
    print(f"critical chain (requests in sequence): {steps}")
    print(
        json.dumps(
            {
                "latency_ms": args.latency_ms,
                "repeat (best of)": args.repeat,
                "up_seconds_no_latency": round(no_latency, 2),
                "up_seconds_with_latency": round(with_latency, 2),
                "added_seconds": round(added, 2),
                "requests_on_critical_chain": sequential,
                "critical_path_bound_seconds": round(bound, 2),
                "added_time_over_bound": round(added / bound, 2) if bound else None,
            }
        )
    )


def timed_up(latency_ms: int, deploy_seconds: float, s3_endpoint: str) -> tuple[float, list[dict], list[dict]]:
    """`up` from empty on a fresh emulator that delays every request: its wall time, its requests
    and the Railway resources it made."""
    with tempfile.TemporaryDirectory() as tmp:
        server, cli, log = world(Path(tmp), s3_endpoint, deploy_seconds)
        if latency_ms:
            server.emulator.faults.configure([{"kind": "latency", "latency_ms": latency_ms}])
        try:
            entries, seconds = measured(log, lambda: cli.ok("up", "--yes", "--stack", "prod"))
            resources = [r for r in cli.resources("prod") if r["type"].startswith(RAILWAY)]
            return seconds, entries, resources
        finally:
            server.stop()


if __name__ == "__main__":
    main()
