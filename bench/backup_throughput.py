"""Backup and restore throughput of the runner against the raw PostgreSQL tools.

    venv/bin/python -m bench.backup_throughput [--scale 70]

On a pgbench database (scale 70 is about 1 GB), it times:
- `run` (pg_dump -Fc streamed with sha256, read back from the destination, manifest) against a
  raw `pg_dump -Fc -f FILE`, and compares their sizes;
- `verify` (room check, checked fetch, initdb and start of the drill's own throwaway server,
  pg_restore into it, the copy's fingerprint compared with the manifest's, amcheck, and the
  server stopped) and `restore` against a raw `pg_restore` into an empty database;
- `run`'s fingerprint (row counts, content digests, schema, taken beside pg_dump in its
  snapshot) is inside `run`'s time.
Each is the best of --repeat interleaved runs (medians are printed too), each side going first
in turn, and the server settles (autovacuum idle, a checkpoint) before every timed step: a
freshly restored gigabyte sets autovacuum off, and without settling whichever step came next
paid for it. Numbers are printed, not asserted; the goal is both within 1.1x of the raw tools.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from backup_runner import operations, postgres
from backup_runner.catalog import read_catalog
from backup_runner.destinations import DirectoryDestination
from tests.backups.pgserver import PG_BIN, running_postgres


def timed(function, *args, **kwargs) -> tuple[float, object]:
    started = time.monotonic()
    result = function(*args, **kwargs)
    return time.monotonic() - started, result


def quiet(_message: str) -> None:
    return None


def settle(server: str) -> None:
    """Wait until no autovacuum worker runs, then checkpoint: the same start for every step."""
    with psycopg.connect(server, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'").fetchone()[
            0
        ]:
            time.sleep(0.5)
        conn.execute("CHECKPOINT")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=70)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with running_postgres() as server, tempfile.TemporaryDirectory(prefix="mvs-bench-") as tmp:
        work = Path(tmp)
        postgres.create_database(server, "bench")
        url = postgres.with_database(server, "bench")
        init_seconds, _ = timed(
            lambda: subprocess.run(
                [str(PG_BIN / "pgbench"), "-i", "-s", str(args.scale), "-q", url], check=True, capture_output=True
            )
        )
        with psycopg.connect(url) as conn:
            db_size = conn.execute("SELECT pg_database_size('bench')").fetchone()[0]

        raw_file = work / "raw.dump"
        destination = DirectoryDestination(work / "backups")
        runs: dict[str, list[float]] = {"raw_dump": [], "ours_dump": [], "raw_restore": [], "restore": [], "verify": []}

        def raw_dump() -> None:
            runs["raw_dump"].append(
                timed(subprocess.run, ["pg_dump", "-Fc", "-f", str(raw_file), "-d", url], check=True)[0]
            )

        def ours_dump() -> None:
            runs["ours_dump"].append(timed(operations.run_backup, url, destination, quiet)[0])

        def raw_restore() -> None:
            postgres.create_database(server, "raw_restore")
            command = ["pg_restore", "--no-owner", "--no-acl", "-d", postgres.with_database(server, "raw_restore")]
            runs["raw_restore"].append(timed(subprocess.run, [*command, str(raw_file)], check=True)[0])
            postgres.drop_database(server, "raw_restore")

        def ours_restore() -> None:
            runs["restore"].append(timed(operations.restore, url, destination, "ours_restore", progress=quiet)[0])
            postgres.drop_database(server, "ours_restore")

        def ours_verify() -> None:
            seconds, verification = timed(operations.verify, destination, progress=quiet)
            assert verification.passed, verification.problems
            runs["verify"].append(seconds)

        subprocess.run(["pg_dump", "-Fc", "-f", str(raw_file), "-d", url], check=True)  # for raw_restore; untimed
        for attempt in range(args.repeat):
            # Interleaved, best of N, and each side first in turn: the machine's noise hits both.
            # Before each timed step the server settles (autovacuum done, a checkpoint), so no step
            # pays for the previous one's aftermath.
            dumps, restores = [raw_dump, ours_dump], [raw_restore, ours_restore, ours_verify]
            if attempt % 2:
                dumps.reverse()
                restores.reverse()
            for step in [*dumps, *restores]:
                settle(server)
                step()
        raw_bytes = raw_file.stat().st_size
        runner_bytes = read_catalog(destination).restorable[0].manifest.size_bytes
        best = {name: min(values) for name, values in runs.items()}
        median = {name: statistics.median(values) for name, values in runs.items()}

    print(
        json.dumps(
            {
                "pgbench_scale": args.scale,
                "database_bytes": db_size,
                "pgbench_init_seconds": round(init_seconds, 1),
                "repeat (best of)": args.repeat,
                "raw_pg_dump_seconds": round(best["raw_dump"], 2),
                "runner_backup_seconds": round(best["ours_dump"], 2),
                "backup_time_ratio": round(best["ours_dump"] / best["raw_dump"], 3),
                "raw_dump_bytes": raw_bytes,
                "runner_dump_bytes": runner_bytes,
                "raw_pg_restore_seconds": round(best["raw_restore"], 2),
                "runner_restore_seconds": round(best["restore"], 2),
                "restore_time_ratio": round(best["restore"] / best["raw_restore"], 3),
                "runner_verify_seconds": round(best["verify"], 2),
                "verify_time_ratio_to_raw_restore": round(best["verify"] / best["raw_restore"], 3),
                "median_ratios": {
                    "backup": round(median["ours_dump"] / median["raw_dump"], 3),
                    "restore": round(median["restore"] / median["raw_restore"], 3),
                    "verify": round(median["verify"] / median["raw_restore"], 3),
                },
                "every run (seconds)": {name: [round(v, 2) for v in values] for name, values in runs.items()},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
