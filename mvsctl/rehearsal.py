"""`./mvs rehearse STACK`: a Railway stack's `pulumi up`, offline, against the emulator.

It needs no Docker, no internet and no Railway account. It runs on a copy of the project with
its own state backend and throwaway secrets, and it ends with the number of Railway requests the
run made. The backup bucket is an S3 server on loopback too, so the stack's `last_drill` output is
read from a bucket, not from the internet.

It touches nothing of the checkout: not the stack files, not `.state/` (the policy pack's findings
and event log go to the rehearsal's own work directory, so the real stack's last findings, which
`./mvs summary` reads, stay as they were). The work directory is removed when the rehearsal
succeeds and kept, and named, when it fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import yaml

from components.spec import NAMESPACE, EnvironmentSpec
from railway_emulator.requestlog import read_log
from railway_emulator.server import DEFAULT_TOKEN, Emulator, EmulatorServer

from . import policies
from .loopback_s3 import create_bucket, loopback_s3
from .process import run, run_attached
from .workspace import copy_program


def strip_secrets(stack_file: Path) -> None:
    """Drop encrypted values and the salt: they belong to the real stack's passphrase."""
    document = yaml.safe_load(stack_file.read_text())
    config = document.get("config", {})
    document["config"] = {k: v for k, v in config.items() if not (isinstance(v, dict) and "secure" in v)}
    document.pop("encryptionsalt", None)
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))


def rehearse(stack: str, spec: EnvironmentSpec, pulumi_args: list[str], say: Callable[[str], None] = print) -> int:
    workdir = Path(tempfile.mkdtemp(prefix=f"mvs-rehearsal-{stack}-"))
    code = 1
    try:
        checks = policies.policy_run(stack, "rehearsal", pulumi_args, say=say, state_dir=workdir / ".state")
        with loopback_s3() as s3_endpoint:
            code = _rehearse(stack, spec, [*checks.args, *pulumi_args], s3_endpoint, workdir)
        checks.finish(say=say, kept=code != 0)
    finally:
        if code == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"rehearsal: failed; its work files are kept in {workdir} (remove it when done)")
    return code


def _rehearse(stack: str, spec: EnvironmentSpec, pulumi_args: list[str], s3_endpoint: str, workdir: Path) -> int:
    program = copy_program(workdir / "program")
    strip_secrets(program / "stacks" / f"Pulumi.{stack}.yaml")
    log_path = workdir / "requests.jsonl"
    server = EmulatorServer(Emulator(state_path=workdir / "railway.json", log_path=log_path)).start()
    (workdir / "state").mkdir()
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{workdir / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(16),
        "RAILWAY_API_TOKEN": DEFAULT_TOKEN,
        "RAILWAY_API_ENDPOINT": server.url,
    }
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    env.pop("RAILWAY_TOKEN", None)
    try:
        print(f"rehearsal: Railway emulator at {server.url}; work files in {workdir} (removed if it succeeds)")
        run(["pulumi", "stack", "init", stack, "--non-interactive"], cwd=str(program), env=env)
        throwaway = {name: secrets.token_urlsafe(24) for name in sorted(spec.secret_names())}
        for name, value in throwaway.items():
            run(
                ["pulumi", "config", "set", "--secret", "--stack", stack, f"{NAMESPACE}:{name}", "--non-interactive"],
                input_text=value,
                cwd=str(program),
                env=env,
            )
        run(["pulumi", "config", "set", "--stack", stack, "railway:pollSeconds", "0.05"], cwd=str(program), env=env)
        destination = spec.backups.destination if spec.backups.enabled else None
        if destination is not None and destination.kind == "s3":
            endpoint_key = f"{NAMESPACE}:environment.backups.destination.endpoint"
            set_endpoint = ["pulumi", "config", "set", "--path", "--stack", stack, endpoint_key, s3_endpoint]
            run(set_endpoint, cwd=str(program), env=env)
            keys = (throwaway[destination.access_key_secret], throwaway[destination.secret_key_secret])
            create_bucket(s3_endpoint, destination.bucket, keys)
            print(f"rehearsal: backup bucket {destination.bucket} on loopback at {s3_endpoint}")
        code = run_attached(["pulumi", "up", "--stack", stack, *pulumi_args], cwd=str(program), env=env)
    finally:
        server.stop()
    counts = Counter(entry["operation"] for entry in read_log(log_path))
    summary = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
    print(f"rehearsal: {sum(counts.values())} Railway requests ({summary or 'none'})")
    return code
