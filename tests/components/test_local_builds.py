"""What the dev stack builds and keeps: image tags that follow the code, build contexts that send
only what an image copies, data that outlives a destroy, and waits that say what they wait for."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pulumi
import pytest

from components.local.builds import build_digest, context_files
from components.spec import BuildOptions
from tests.components.conftest import CONTAINER, IMAGE, ROOT, VOLUME, dev_raw
from tests.components.test_local_stack import build, registered


def dockerfile_sources(dockerfile: Path, context: Path) -> set[str]:
    """Every file the Dockerfile's COPY lines take from `context` (patterns and directories expanded)."""
    found: set[str] = set()
    for line in dockerfile.read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        for pattern in line.split()[1:-1]:
            for path in context.glob(pattern):
                files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
                found.update(f.relative_to(context).as_posix() for f in files if "__pycache__" not in f.parts)
    return found


@pytest.mark.parametrize(
    "context, dockerfile",
    [(".", "backup_runner/Dockerfile"), ("app/backend", "Dockerfile"), ("app/frontend", "Dockerfile")],
)
def test_a_build_context_holds_only_what_its_dockerfile_copies(context, dockerfile):
    """The engine receives the Dockerfile and the files it copies, nothing else: not .state/ (the
    passphrase), not venv/, not node_modules/."""
    root = ROOT / context
    sent = set(context_files(root, root / dockerfile))
    copied = dockerfile_sources(root / dockerfile, root)
    assert copied, f"{context}/{dockerfile} copies something"
    # The engine always receives the Dockerfile and the .dockerignore themselves.
    assert sent == copied | {dockerfile, ".dockerignore"}


def test_the_runner_context_leaves_out_state_and_virtualenvs(tmp_path):
    """A copy of the repository with a passphrase, a venv and node_modules in it, as on a laptop."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".git", "venv", ".tools", "node_modules", ".state"))
    (repo / ".state").mkdir()
    (repo / ".state" / "passphrase").write_text("never-sent")
    (repo / "venv" / "lib").mkdir(parents=True)
    (repo / "venv" / "lib" / "big.py").write_text("x = 1\n")
    sent = context_files(repo, repo / "backup_runner" / "Dockerfile")
    assert sent and all(p.startswith(("backup_runner/", "components/", ".dockerignore")) for p in sent), sent
    before = build_digest(repo, repo / "backup_runner" / "Dockerfile", BuildOptions())
    (repo / ".state" / "passphrase").write_text("rewritten by every run")
    (repo / "venv" / "lib" / "big.py").write_text("x = 2\n")
    (repo / "README.md").write_text("edited")
    assert build_digest(repo, repo / "backup_runner" / "Dockerfile", BuildOptions()) == before
    (repo / "backup_runner" / "schedule.py").write_text("# changed\n")
    assert build_digest(repo, repo / "backup_runner" / "Dockerfile", BuildOptions()) != before


def test_a_build_digest_follows_the_code_the_dockerfile_and_the_options(tmp_path):
    context = tmp_path / "svc"
    (context / "src").mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM x\nCOPY src ./src\n")
    (context / ".dockerignore").write_text("*\n!Dockerfile\n!src\n")
    (context / "src" / "a.js").write_text("1")
    first = build_digest(context, context / "Dockerfile", BuildOptions())
    assert re.fullmatch(r"[0-9a-f]{12}", first)
    (context / "notes.txt").write_text("ignored")
    assert build_digest(context, context / "Dockerfile", BuildOptions()) == first
    (context / "src" / "a.js").write_text("2")
    second = build_digest(context, context / "Dockerfile", BuildOptions())
    assert second != first
    (context / "src" / "a.js").chmod(0o755)
    assert build_digest(context, context / "Dockerfile", BuildOptions()) != second
    assert build_digest(context, context / "Dockerfile", BuildOptions(network="host")) != second
    assert build_digest(context, context / "Dockerfile", BuildOptions(args={"BASE_IMAGE": "b:1"})) != second


@pulumi.runtime.test
def test_every_container_runs_an_image_by_the_id_the_engine_reports_and_is_healthchecked(monitor):
    raw = dev_raw()
    raw["monitoring"]["enabled"] = True
    pulumi.runtime.set_all_config(
        {**{"mvs:dbPassword": "pw-1", "mvs:sessionSecret": "s-2", "mvs:grafanaAdminPassword": "g-3"}},
        ["mvs:dbPassword", "mvs:sessionSecret", "mvs:grafanaAdminPassword"],
    )
    stack = build(raw)

    def check(_):
        containers = monitor.of_type(CONTAINER)
        assert sorted(c.name for c in containers) == [
            "dev-alertmanager",
            "dev-backend",
            "dev-backup",
            "dev-database",
            "dev-frontend",
            "dev-grafana",
            "dev-postgres-exporter",
            "dev-prometheus",
            "dev-pushgateway",
        ]
        by_urn = {r.urn: r for r in monitor.registrations}
        for container in containers:
            check = container.inputs["healthcheck"]
            assert check["test"][0] == "CMD" and check["retries"] >= 1, container.name
            # Whole seconds (numbers cross Pulumi's RPC as floats), as the provider reads them back.
            assert all(check[k] > 0 and check[k] == int(check[k]) for k in SECONDS), container.name
            (source,) = container.property_dependencies["image"]
            assert by_urn[source].type == IMAGE, container.name
            assert container.inputs["image"].startswith("sha256:"), container.name  # an id, never a tag
        built = {r.name: r for r in monitor.of_type(IMAGE) if r.inputs.get("build")}
        assert sorted(built) == ["dev-backend-image", "dev-backup-runner-image", "dev-frontend-image"]
        for name, image in built.items():
            assert re.fullmatch(r"mvs-[a-z-]+:[0-9a-f]{12}", image.inputs["name"]), name
        pulled = {r.name: r.inputs["name"] for r in monitor.of_type(IMAGE) if not r.inputs.get("build")}
        assert pulled["dev-postgres-image"] == raw["database"]["image"]

    return registered(stack).apply(check)


SECONDS = ("interval_seconds", "timeout_seconds", "start_period_seconds")


@pulumi.runtime.test
def test_build_network_platform_and_args_reach_every_build(monitor):
    raw = dev_raw()
    raw["services"]["backend"]["build"].update(network="host", platform="linux/arm64", args={"BASE_IMAGE": "b:1"})
    raw["backups"]["runner_build"] = {"network": "mirror-net", "args": {"BASE_IMAGE": "py:1"}}
    stack = build(raw)

    def check(_):
        backend = monitor.named("dev-backend-image").inputs["build"]
        assert (backend["network"], backend["platform"]) == ("host", "linux/arm64")
        assert backend["args"] == {"BASE_IMAGE": "b:1"}
        runner = monitor.named("dev-backup-runner-image").inputs["build"]
        assert (runner["network"], runner["args"]) == ("mirror-net", {"BASE_IMAGE": "py:1"})
        assert runner.get("platform") is None
        frontend = monitor.named("dev-frontend-image").inputs["build"]
        assert frontend.get("network") is None and not frontend.get("args")
        assert frontend["dockerfile"] == "Dockerfile" and frontend["context"] == str(ROOT / "app" / "frontend")

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_data_and_backup_volumes_outlive_a_destroy(monitor):
    stack = build(dev_raw())

    def check(_):
        volumes = {r.name: r for r in monitor.of_type(VOLUME)}
        assert sorted(volumes) == ["dev-backups", "dev-pgdata"]
        assert all(v.retain_on_delete for v in volumes.values())
        assert not monitor.named("dev-database").retain_on_delete  # containers go; data stays

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_migrations_run_before_the_backend_starts_in_its_container(monitor):
    stack = build(dev_raw())

    def check(_):
        command = monitor.named("dev-backend").inputs["command"]
        assert command == ["sh", "-c", "node src/migrate.js && exec node src/server.js"]
        assert monitor.named("dev-frontend").inputs.get("command") is None  # the image's own CMD

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_long_waits_say_what_they_wait_for(monitor):
    stack = build(dev_raw())

    def check(_):
        waits = {c.name: (c.inputs["waits_for"], c.inputs["wait_seconds"]) for c in monitor.of_type(CONTAINER)}
        assert waits["dev-database"] == ("Postgres to pass its health check (pg_isready)", 120)
        assert waits["dev-backend"][0] == "backend to pass its health check (/health)"
        assert waits["dev-frontend"][0] == "frontend to pass its health check (/health)"
        assert "backup scheduler's first heartbeat" in waits["dev-backup"][0]
        assert all(seconds > 0 for _, seconds in waits.values())

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_the_backup_container_is_checked_soon_after_it_starts(monitor):
    """Docker runs the first health check one interval after the start (20.10 has no start
    interval), so a 60 s interval kept `up` waiting a minute on a scheduler that was ready at once."""
    stack = build(dev_raw())

    def check(_):
        assert monitor.named("dev-backup").inputs["healthcheck"]["interval_seconds"] <= 10

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_base_debian_builds_node_python_and_postgres_here_and_everything_on_them(monitor):
    raw = dev_raw()
    raw["base"] = "debian"
    stack = build(raw)

    def check(_):
        images = {r.name: r for r in monitor.of_type(IMAGE)}
        base = images["dev-debian-image"]
        assert base.inputs["debootstrap"]["suite"] == "bookworm" and not base.inputs.get("build")
        assert re.fullmatch(r"mvs-debian:bookworm-[0-9a-f]{12}", base.inputs["name"])
        made = {part: images[f"dev-debian-{part}-image"] for part in ("node", "python", "postgres")}
        for part, image in made.items():
            assert image.inputs["build"]["args"]["BASE_IMAGE"] == base.inputs["name"], part
            assert image.inputs["build"]["network"] == "host", part
            assert image.inputs["build"]["context"] == str(ROOT / "images" / "debian" / part), part
            assert base.urn in image.dependencies, part
        assert "dev-postgres-image" not in images, "nothing is pulled"
        node, python = made["node"].inputs["name"], made["python"].inputs["name"]
        for service in ("backend", "frontend"):
            options = images[f"dev-{service}-image"].inputs["build"]
            assert (options["args"]["BASE_IMAGE"], options["network"]) == (node, "host"), service
        assert images["dev-backup-runner-image"].inputs["build"]["args"]["BASE_IMAGE"] == python
        (source,) = monitor.named("dev-database").property_dependencies["image"]
        assert source == made["postgres"].urn

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_the_official_base_pulls_postgres_and_builds_on_the_dockerfiles_own_base(monitor):
    stack = build(dev_raw())

    def check(_):
        images = {r.name: r for r in monitor.of_type(IMAGE)}
        assert not [name for name in images if "debian" in name]
        assert images["dev-postgres-image"].inputs["name"] == "postgres:15.10-alpine"
        assert "BASE_IMAGE" not in (images["dev-backend-image"].inputs["build"]["args"] or {})

    return registered(stack).apply(check)
