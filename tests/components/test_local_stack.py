"""LocalStack under Pulumi mocks: the resource graph, its properties, ordering and secrets."""

from __future__ import annotations

import pulumi
import yaml

from components.environment import build_environment
from components.spec import parse_environment
from tests.components.conftest import CONTAINER, DOCKER, IMAGE, ROOT, SECRETS, dev_raw


def build(raw: dict):
    spec = parse_environment(raw, "stacks/Pulumi.dev.yaml")
    return build_environment("dev", spec, ROOT)


def registered(stack) -> pulumi.Output:
    """Resolves once every resource of the stack has been registered with the monitor."""
    children = [stack.network, stack.volume, stack.database, *stack.containers.values()]
    if stack.monitoring is not None:
        parts = stack.monitoring
        children += [parts.prometheus, parts.grafana, parts.alertmanager, parts.postgres_exporter]
        children += [parts.pushgateway] if parts.pushgateway is not None else []
    if stack.backups is not None:
        children += [stack.backups.volume, stack.backups.container, stack.backups.last_drill]
    return pulumi.Output.all(*[child.urn for child in children])


async def resolved(output: pulumi.Output):
    return await output.future(), await output.is_secret()


@pulumi.runtime.test
def test_every_container_is_healthchecked_restarted_pinned_and_networked(monitor):
    stack = build(dev_raw())

    def check(_):
        containers = monitor.of_type(CONTAINER)
        assert {c.name for c in containers} == {"dev-database", "dev-backend", "dev-frontend", "dev-backup"}
        network = monitor.named("dev-network")
        images = {r.name: r.inputs["name"] for r in monitor.of_type(IMAGE)}
        assert images.pop("dev-postgres-image") == "postgres:15.10-alpine"
        # The app and the runner are built here, each tagged with the digest of what it is built from.
        assert {name: ref.split(":")[0] for name, ref in images.items()} == {
            "dev-backend-image": "mvs-dev-backend",
            "dev-frontend-image": "mvs-dev-frontend",
            "dev-backup-runner-image": "mvs-backup-runner",
        }
        for container in containers:
            inputs = container.inputs
            assert inputs["healthcheck"]["test"][0] == "CMD", container.name
            assert inputs["restart"]["policy"] in {"on-failure", "always", "unless-stopped"}, container.name
            assert inputs["image"].startswith("sha256:"), container.name  # an id, as the engine reports it
            assert inputs["wait_seconds"] > 0 and inputs["running"] is True, container.name
            assert inputs["network"] == network.inputs["name"], container.name
            assert network.urn in container.property_dependencies["network"], container.name
            labels = inputs["labels"]
            assert labels["com.mvs.stack"] == "dev" and labels["com.mvs.release"] == "2.0.0", container.name
        database = monitor.named("dev-database")
        volume = monitor.named("dev-pgdata")
        assert database.inputs["volumes"] == [{"volume": volume.inputs["name"], "path": "/var/lib/postgresql/data"}]
        assert database.inputs["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
        # Volumes and the network outlive releases: no release label, which the engine could not change.
        assert "com.mvs.release" not in volume.inputs["labels"] and "com.mvs.release" not in network.inputs["labels"]

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_health_checks_and_restart_policies_follow_the_declaration(monitor):
    raw = dev_raw()
    raw["services"]["backend"]["health_check"].update(interval_seconds=7, timeout_seconds=2, retries=4)
    raw["services"]["frontend"]["restart"] = {"policy": "always"}
    raw["services"]["frontend"]["health_check"].update(probe="wget", interval_seconds=90, start_period_seconds=3600)
    stack = build(raw)

    def check(_):
        backend = monitor.named("dev-backend").inputs
        assert backend["healthcheck"]["interval_seconds"] == 7
        assert backend["healthcheck"]["timeout_seconds"] == 2
        assert backend["healthcheck"]["retries"] == 4
        assert "http://127.0.0.1:3000/health" in " ".join(backend["healthcheck"]["test"])
        assert backend["restart"] == {"policy": "on-failure", "max_retries": 5}
        frontend = monitor.named("dev-frontend").inputs
        assert frontend["restart"] == {"policy": "always", "max_retries": 0}  # as the engine reads it back
        assert frontend["healthcheck"]["test"][:2] == ["CMD", "wget"]
        assert frontend["healthcheck"]["interval_seconds"] == 90
        assert frontend["healthcheck"]["start_period_seconds"] == 3600
        assert backend["ports"] == [{"internal": 3000, "external": 3000, "ip": "127.0.0.1"}]

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_backend_waits_for_a_healthy_database_and_frontend_for_backend(monitor):
    stack = build(dev_raw())

    def check(_):
        database = monitor.named("dev-database")
        backend = monitor.named("dev-backend")
        frontend = monitor.named("dev-frontend")
        assert database.inputs["wait_seconds"] > 0 and database.inputs["healthcheck"]
        assert database.urn in backend.dependencies
        assert backend.urn in frontend.dependencies
        order = [r.name for r in monitor.of_type(CONTAINER)]
        assert order.index("dev-database") < order.index("dev-backend") < order.index("dev-frontend")

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_database_url_is_wired_as_a_secret(monitor):
    stack = build(dev_raw())

    def check(_):
        backend = monitor.named("dev-backend")
        # Secret going in, and secret in what the provider writes back to the state.
        assert "env" in backend.secret_inputs and "env" in backend.secret_outputs
        envs = dict(e.split("=", 1) for e in backend.inputs["env"])
        assert envs["DATABASE_URL"] == "postgresql://mvs:pw-Never-Shown-1@database:5432/mvs"
        assert envs["SESSION_SECRET"] == SECRETS["mvs:sessionSecret"]
        assert backend.inputs["secret_names"] == ["DATABASE_URL", "SESSION_SECRET"]
        database = monitor.named("dev-database")
        assert "env" in database.secret_inputs and "env" in database.secret_outputs
        frontend = monitor.named("dev-frontend")
        assert "env" not in frontend.secret_inputs and "env" not in frontend.secret_outputs

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_no_output_shows_a_secret_in_plaintext(monitor):
    stack = build(dev_raw())
    outputs = pulumi.runtime.settings.get_root_resource().outputs

    async def check_all():
        await registered(stack).future()
        assert {"urls", "connection_string", "release", "target"} <= set(outputs)
        for name, value in outputs.items():
            output = pulumi.Output.from_input(value)
            plain, is_secret = await resolved(output)
            leaks = [s for s in SECRETS.values() if s in repr(plain)]
            assert not leaks or is_secret, f"output {name} shows a secret in plaintext"
        connection, connection_secret = await resolved(pulumi.Output.from_input(outputs["connection_string"]))
        assert connection_secret and SECRETS["mvs:dbPassword"] in connection

    return pulumi.Output.from_input(check_all())


@pulumi.runtime.test
def test_protected_database_and_volume_when_declared(monitor):
    raw = dev_raw()
    raw["database"]["protect"] = True
    stack = build(raw)

    def check(_):
        assert monitor.named("dev-database").protect and monitor.named("dev-pgdata").protect
        assert not monitor.named("dev-backend").protect

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_components_use_mvs_local_type_tokens(monitor):
    stack = build(dev_raw())

    def check(_):
        components = {r.type: r.urn for r in monitor.registrations if r.type.startswith("mvs:")}
        assert sorted(components) == ["mvs:local:Backups", "mvs:local:Stack"]
        children = [r for r in monitor.registrations if r.type.startswith(DOCKER)]
        assert children and all(r.parent in components.values() for r in children)

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_monitoring_adds_prometheus_scraping_every_service_and_grafana(monitor):
    raw = dev_raw()
    raw["monitoring"] = {"enabled": True, "grafana_admin_secret": "sessionSecret", "grafana_host_port": 3300}
    stack = build(raw)

    def check(_):
        prometheus = monitor.named("dev-prometheus")
        grafana = monitor.named("dev-grafana")
        config = yaml.safe_load(prometheus.inputs["uploads"][0]["content"])
        targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
        assert targets == {
            "backend": ["backend:3000"],
            "frontend": ["frontend:8080"],
            "postgres-exporter": ["postgres-exporter:9187"],
            "pushgateway": ["pushgateway:9091"],
        }
        for container in (prometheus, grafana):
            assert container.inputs["healthcheck"]["test"][0] == "CMD"
            assert container.inputs["wait_seconds"] > 0
            assert container.inputs["image"].startswith("sha256:")
        assert "env" in grafana.secret_inputs and "env" in grafana.secret_outputs
        assert prometheus.urn in grafana.dependencies
        assert grafana.inputs["ports"][0]["external"] == 3300
        components = sorted(r.type for r in monitor.registrations if r.name == "dev")
        assert components == ["mvs:local:Backups", "mvs:local:Monitoring", "mvs:local:Stack"]
        images = {r.inputs["name"] for r in monitor.of_type(IMAGE)}
        assert {"prom/prometheus:v2.55.1", "grafana/grafana:11.3.0"} <= images

    return pulumi.Output.all(registered(stack), stack.urls).apply(check)


@pulumi.runtime.test
def test_monitoring_off_adds_no_monitoring_containers(monitor):
    stack = build(dev_raw())

    def check(args):
        _, urls = args
        assert not [r for r in monitor.registrations if "prometheus" in r.name or "grafana" in r.name]
        assert set(urls) == {"backend", "frontend"}

    return pulumi.Output.all(registered(stack), stack.urls).apply(check)


@pulumi.runtime.test
def test_backups_run_the_runner_built_here_on_schedule_into_a_named_volume(monitor):
    stack = build(dev_raw())

    def check(_):
        backup = monitor.named("dev-backup")
        volume = monitor.named("dev-backups")
        image = monitor.named("dev-backup-runner-image")
        assert image.inputs["build"]["dockerfile"] == "backup_runner/Dockerfile"
        assert image.inputs["build"]["context"] == str(ROOT)
        command = backup.inputs["command"]
        assert command[:4] == ["python", "-m", "backup_runner", "schedule"]
        assert command[command.index("--backup-cron") + 1] == "0 * * * *"
        assert command[command.index("--verify-cron") + 1] == "30 12 * * *"
        assert backup.inputs["volumes"] == [{"volume": volume.inputs["name"], "path": "/backups"}]
        assert "env" in backup.secret_inputs and "env" in backup.secret_outputs
        envs = dict(e.split("=", 1) for e in backup.inputs["env"])
        assert envs["DATABASE_URL"] == "postgresql://mvs:pw-Never-Shown-1@database:5432/mvs"
        assert envs["BACKUP_DESTINATION"] == "/backups" and envs["RETAIN_DAILY"] == "3"
        assert backup.inputs["healthcheck"]["test"] == ["CMD", "python", "-m", "backup_runner", "health"]
        backups_component = next(r for r in monitor.registrations if r.type == "mvs:local:Backups")
        assert monitor.named("dev-database").urn in backups_component.dependencies
        last_drill = monitor.named("dev-last-drill")
        assert last_drill.inputs["source"] == {"kind": "container", "container": "mvs-dev-backup", "path": "/backups"}
        assert backup.urn in last_drill.dependencies, "read once the backup container runs"

    return registered(stack).apply(check)
