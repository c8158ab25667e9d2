"""Each rule, called directly with arguments built by hand: a case that breaks it and one that keeps
it, with the exact message (stack file, declaration key, what was found, the rule)."""

from __future__ import annotations

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.declaration import (
    BACKUP_SCHEDULES,
    CUSTOM_DOMAIN,
    DOCKER_CONTAINER,
    DOCKER_IMAGE,
    DOCKER_VOLUME,
    ENVIRONMENT,
    SERVICE_DOMAIN,
    SERVICE_INSTANCE,
    VARIABLES,
    VOLUME,
)
from policies.rules import data, images, plaintext, projects, services
from tests.policies.harness import check, policy_resource, resource_args, stack_args

PROD = "stacks/Pulumi.prod.yaml: mvs:environment"
DEV = "stacks/Pulumi.dev.yaml: mvs:environment"
DIGEST = "sha256:" + "3" * 64
PROVIDER = {"__provider": "a pickled provider, never read"}
BACKEND = {
    **PROVIDER,
    "service_id": "s-1",
    "environment_id": "e-1",
    "image": "ghcr.io/mvs-app/backend:2.0.0",
    "start_command": "node src/server.js",
    "pre_deploy_command": ["node src/migrate.js"],
    "healthcheck_path": "/health",
    "healthcheck_timeout": 44.0,
    "restart_policy_type": "ON_FAILURE",
    "restart_policy_max_retries": 3.0,
    "num_replicas": 2.0,
    "region": "europe-west4-drams3a",
    "cron_schedule": None,
    "multi_region_config": {"europe-west4-drams3a": {"numReplicas": 2.0}},
}
JOB = {
    **BACKEND,
    "image": "ghcr.io/mvs-app/backup-runner:0.1.0",
    "pre_deploy_command": None,
    "healthcheck_path": None,
    "healthcheck_timeout": None,
    "restart_policy_type": "NEVER",
    "restart_policy_max_retries": 10.0,
    "num_replicas": 1.0,
    "region": None,
    "multi_region_config": None,
    "cron_schedule": "0 */6 * * *",
}
POSTGRES = {**JOB, "image": "ghcr.io/railwayapp-templates/postgres-ssl:15", "restart_policy_type": "ALWAYS"}
POSTGRES["cron_schedule"] = None
UNLESS_STOPPED = {"policy": "unless-stopped", "max_retries": 0}
CONTAINER = {
    "image": "sha256:" + "0" * 64,
    "healthcheck": {"test": ["CMD", "node", "-e", "fetch(...)"], "interval_seconds": 10.0, "retries": 5.0},
    "restart": {"policy": "on-failure", "max_retries": 5.0},
    "ports": [{"ip": "127.0.0.1", "internal": 3000.0, "external": 3000.0}],
    "env": ["NODE_ENV=development"],
}


def settings(name: str = "prod-backend-settings", stack: str = "prod", props=None, **changes):
    return resource_args(SERVICE_INSTANCE, name, {**(props or BACKEND), **changes}, stack)


# images-pinned


def test_an_image_by_a_moving_tag_is_reported_with_its_declaration_key():
    found = check(images.images_pinned, settings(image="ghcr.io/mvs-app/backend:latest"))
    assert found == [
        f"{PROD}.release.images.backend is ghcr.io/mvs-app/backend:latest: the tag latest moves with every push; "
        "every image is pinned by digest (name@sha256:…) or by an immutable version tag, never latest"
    ]
    database = resource_args(DOCKER_IMAGE, "dev-postgres-image", {"name": "postgres:15", "build": None}, "dev")
    (message,) = check(images.images_pinned, database)
    assert message.startswith(f"{DEV}.database.image is postgres:15: the tag '15' is not immutable")
    runner = settings("staging-backup-settings", "staging", JOB, image="ghcr.io/mvs-app/backup-runner")
    (message,) = check(images.images_pinned, runner)
    assert message.startswith("stacks/Pulumi.staging.yaml: mvs:environment.backups.runner_image is ")


def test_a_service_the_component_gives_no_image_is_reported():
    assert check(images.images_pinned, settings(image=None)) == [
        f"{PROD}.release.images.backend gives prod-backend-settings no image; every image is pinned by digest "
        "(name@sha256:…) or by an immutable version tag, never latest"
    ]


def test_pinned_images_and_local_builds_pass():
    assert check(images.images_pinned, settings()) == []
    assert check(images.images_pinned, settings(image=f"ghcr.io/mvs-app/backend@{DIGEST}")) == []
    build = {"context": "/repo/app/backend", "dockerfile": "Dockerfile"}
    props = {"name": "mvs-dev-backend:dc114861011f", "build": build}
    built = resource_args(DOCKER_IMAGE, "dev-backend-image", props, "dev")
    assert check(images.images_pinned, built) == []


# prod-images-by-digest


def test_prod_names_images_by_digest():
    (message,) = check(images.prod_images_by_digest, settings())
    assert message.startswith(f"{PROD}.release.images.backend is ghcr.io/mvs-app/backend:2.0.0; on prod every image")
    assert check(images.prod_images_by_digest, settings(image=f"ghcr.io/mvs-app/backend:2.0.0@{DIGEST}")) == []
    assert check(images.prod_images_by_digest, settings("staging-backend-settings", "staging")) == []


# postgres-major-pinned


@pytest.mark.parametrize("image", ["ghcr.io/railwayapp-templates/postgres-ssl:latest", f"postgres@{DIGEST}"])
def test_a_database_image_that_names_no_major_is_reported(image):
    (message,) = check(images.postgres_major_pinned, settings("prod-database-settings", props=POSTGRES, image=image))
    assert message.startswith(f"{PROD}.database.image is {image}, whose tag names no Postgres major version")


@pytest.mark.parametrize("image", ["ghcr.io/railwayapp-templates/postgres-ssl:15", f"postgres:15.10-alpine@{DIGEST}"])
def test_a_database_image_with_its_major_passes(image):
    assert check(images.postgres_major_pinned, settings("prod-database-settings", props=POSTGRES, image=image)) == []
    assert check(images.postgres_major_pinned, settings(image="ghcr.io/mvs-app/backend:latest")) == [], "not the db"


# services-health-checked


def test_a_long_running_service_without_a_health_check_is_reported():
    assert check(services.health_checked, settings(healthcheck_path=None)) == [
        f"{PROD}.services.backend.health_check reaches prod-backend-settings without a health check path; every "
        "long-running service has a health check, so a deployment that never serves fails instead of going live"
    ]
    (message,) = check(services.health_checked, settings(healthcheck_timeout=0))
    assert "without a health check timeout" in message
    frontend = resource_args(DOCKER_CONTAINER, "dev-frontend", {**CONTAINER, "healthcheck": None}, "dev")
    (message,) = check(services.health_checked, frontend)
    assert message.startswith(f"{DEV}.services.frontend.health_check leaves container dev-frontend without a health")
    database = {**CONTAINER, "healthcheck": {"tests": ["NONE"]}}
    (message,) = check(services.health_checked, resource_args(DOCKER_CONTAINER, "dev-database", database, "dev"))
    assert message.startswith(f"{DEV}.database leaves container dev-database without a health check (the components")


def test_checked_services_cron_jobs_and_railways_postgres_pass():
    assert check(services.health_checked, settings()) == []
    assert check(services.health_checked, settings("prod-backup-settings", props=JOB)) == []
    assert check(services.health_checked, settings("prod-database-settings", props=POSTGRES)) == []
    assert check(services.health_checked, resource_args(DOCKER_CONTAINER, "dev-backend", CONTAINER, "dev")) == []


# services-restart-bounded


@pytest.mark.parametrize(
    ("policy", "retries", "found"),
    [
        ("ALWAYS", 10.0, "always (Railway restarts it without a bound)"),
        ("NEVER", 10.0, "never (one crash leaves it down)"),
        ("ON_FAILURE", 50.0, "on_failure with max_retries 50"),
    ],
)
def test_a_long_running_service_restarting_without_bounds_or_never_is_reported(policy, retries, found):
    args = settings(restart_policy_type=policy, restart_policy_max_retries=retries)
    assert check(services.restart_bounded, args) == [
        f"{PROD}.services.backend.restart is {found}; long-running services restart on failure with 1 to 10 "
        "retries, so a crash is retried and a crash loop ends"
    ]


def test_docker_restarts_are_held_to_the_same_rule_and_the_database_must_come_back():
    unbounded = resource_args(DOCKER_CONTAINER, "dev-backend", {**CONTAINER, "restart": UNLESS_STOPPED}, "dev")
    (message,) = check(services.restart_bounded, unbounded)
    assert message.startswith(f"{DEV}.services.backend.restart is unless-stopped (Docker restarts it without a bound)")
    never = {"policy": "no", "max_retries": 0}
    database = resource_args(DOCKER_CONTAINER, "dev-database", {**CONTAINER, "restart": never}, "dev")
    (message,) = check(services.restart_bounded, database)
    assert message == f"{DEV}.database runs container dev-database without a restart policy (the components set it)"
    postgres = settings("prod-database-settings", props=POSTGRES, restart_policy_type="NEVER")
    (message,) = check(services.restart_bounded, postgres)
    assert message.startswith(f"{PROD}.database runs with restart policy NEVER on prod-database-settings")


def test_bounded_restarts_pass():
    assert check(services.restart_bounded, settings()) == []
    assert check(services.restart_bounded, settings("prod-database-settings", props=POSTGRES)) == []
    assert check(services.restart_bounded, settings("prod-backup-settings", props=JOB)) == [], "cron: another rule"
    assert check(services.restart_bounded, resource_args(DOCKER_CONTAINER, "dev-backend", CONTAINER, "dev")) == []
    database = resource_args(DOCKER_CONTAINER, "dev-database", {**CONTAINER, "restart": UNLESS_STOPPED}, "dev")
    assert check(services.restart_bounded, database) == []


# cron-jobs-run-once


def test_a_cron_job_with_replicas_or_restarting_always_is_reported():
    job = settings("prod-backup-settings", props=JOB, num_replicas=2.0)
    assert check(services.cron_runs_once, job) == [
        f"{PROD}.backups.dump_schedule runs prod-backup-settings as a cron job with 2 replicas (the components set "
        "the job's settings); a cron job runs one replica"
    ]
    report = settings("prod-report-settings", props=JOB, restart_policy_type="ALWAYS")
    assert check(services.cron_runs_once, report) == [
        f"{PROD}.services.report.restart restarts cron job prod-report-settings always; a cron job never restarts "
        "after it succeeded"
    ]


def test_a_cron_job_with_one_replica_that_does_not_restart_on_success_passes():
    assert check(services.cron_runs_once, settings("prod-backup-verify-settings", props=JOB)) == []
    on_failure = settings("prod-report-settings", props=JOB, restart_policy_type="ON_FAILURE")
    assert check(services.cron_runs_once, on_failure) == []
    assert check(services.cron_runs_once, settings()) == [], "a long-running service with 2 replicas is no cron job"


# prod-regions-set


def test_prod_services_name_their_region():
    (message,) = check(services.prod_regions_set, settings(region=None, multi_region_config=None))
    assert message.startswith(f"{PROD}.services.backend.region is not set; on prod every service names its region")
    assert check(services.prod_regions_set, settings()) == []
    assert check(services.prod_regions_set, settings("staging-backend-settings", "staging", region=None)) == []


# prod-public-replicas


def public(stack: str = "prod", **changes) -> list:
    return [
        policy_resource(SERVICE_INSTANCE, f"{stack}-backend-settings", {**BACKEND, **changes}, stack),
        policy_resource(SERVICE_DOMAIN, f"{stack}-backend-domain", {"target_port": 3000.0}, stack),
    ]


def test_a_public_prod_service_with_one_replica_is_reported():
    args = stack_args(public(num_replicas=1.0, multi_region_config={"europe-west4-drams3a": {"numReplicas": 1.0}}))
    assert check(services.prod_public_replicas, args) == [
        f"{PROD}.services.backend.replicas is 1; public services on prod run at least 2 replicas, so one crash or "
        "one deploy never takes the service down"
    ]
    custom = [
        policy_resource(
            SERVICE_INSTANCE,
            "prod-web-settings",
            {**BACKEND, "num_replicas": 1.0, "region": None, "multi_region_config": None},
        ),
        policy_resource(CUSTOM_DOMAIN, "prod-web-mvs.example", {"domain": "mvs.example"}),
    ]
    (message,) = check(services.prod_public_replicas, stack_args(custom))
    assert message.startswith(f"{PROD}.services.web.replicas is 1")


def test_two_replicas_over_regions_private_services_and_staging_pass():
    two_regions = {"us-west2": {"numReplicas": 1.0}, "europe-west4-drams3a": {"numReplicas": 1.0}}
    assert check(services.prod_public_replicas, stack_args(public(multi_region_config=two_regions))) == []
    private = [policy_resource(SERVICE_INSTANCE, "prod-worker-settings", {**BACKEND, "num_replicas": 1.0})]
    assert check(services.prod_public_replicas, stack_args(private)) == []
    assert check(services.prod_public_replicas, stack_args(public("staging", num_replicas=1.0))) == []


# migrations-before-deploy


def uses_database(pre_deploy, service: str = "backend", url: str = "${{Postgres.DATABASE_URL}}") -> list:
    return [
        policy_resource(
            SERVICE_INSTANCE, f"staging-{service}-settings", {**BACKEND, "pre_deploy_command": pre_deploy}, "staging"
        ),
        policy_resource(VARIABLES, f"staging-{service}-variables", {"variables": {"DATABASE_URL": url}}, "staging"),
    ]


def test_a_service_that_uses_the_database_without_a_pre_deploy_command_is_reported():
    assert check(services.migrations_before_deploy, stack_args(uses_database(None))) == [
        "stacks/Pulumi.staging.yaml: mvs:environment.services.backend.pre_deploy_command is not set, yet backend "
        "uses the database (DATABASE_URL); a service that uses the database runs its migrations before it deploys, "
        "so new code never meets an old schema"
    ]


def test_migrating_services_and_services_without_the_database_pass():
    assert check(services.migrations_before_deploy, stack_args(uses_database(["node src/migrate.js"]))) == []
    other = uses_database(None, "frontend", "http://backend.railway.internal:3000")
    assert check(services.migrations_before_deploy, stack_args(other)) == []


# prod-data-protected


def test_an_unprotected_prod_database_volume_or_environment_is_reported():
    volume = resource_args(VOLUME, "prod-database-volume", {"size_mb": 50000.0}, protect=False)
    assert check(data.prod_data_protected, volume) == [
        f"{PROD}.database.protect leaves prod-database-volume (Volume) unprotected; on prod the database, its "
        "volume and everything it needs to start are protected, so no routine up or destroy can delete them"
    ]
    environment = resource_args(ENVIRONMENT, "prod-environment", {"name": "prod"}, protect=False)
    (message,) = check(data.prod_data_protected, environment)
    assert "prod-environment (Environment) unprotected" in message
    schedules = resource_args(BACKUP_SCHEDULES, "prod-database-backup-schedules", {"kinds": ["DAILY"]})
    assert len(check(data.prod_data_protected, schedules)) == 1


def test_a_protected_prod_database_other_resources_and_other_stacks_pass():
    volume = resource_args(VOLUME, "prod-database-volume", {"size_mb": 50000.0}, protect=True)
    assert check(data.prod_data_protected, volume) == []
    assert (
        check(
            data.prod_data_protected,
            settings(),
        )
        == []
    ), "the backend's settings need no protection"
    staging = resource_args(VOLUME, "staging-database-volume", {"size_mb": 10000.0}, "staging", protect=False)
    assert check(data.prod_data_protected, staging) == []
    local = resource_args(DOCKER_VOLUME, "prod-pgdata", {"name": "mvs-prod-pgdata"}, protect=False)
    assert len(check(data.prod_data_protected, local)) == 1


# prod-backups


def backups(
    dump="0 */6 * * *",
    drill="30 4 * * *",
    destination="s3://mvs-backups/prod",
    daily="14",
    kinds=("DAILY", "WEEKLY"),
    stack="prod",
) -> list:
    variables = {"BACKUP_DESTINATION": destination, "RETAIN_DAILY": daily, "AWS_SECRET_ACCESS_KEY": "not-shown"}
    return [
        policy_resource(SERVICE_INSTANCE, f"{stack}-backup-settings", {**JOB, "cron_schedule": dump}, stack),
        policy_resource(SERVICE_INSTANCE, f"{stack}-backup-verify-settings", {**JOB, "cron_schedule": drill}, stack),
        policy_resource(VARIABLES, f"{stack}-backup-variables", {"variables": variables}, stack),
        policy_resource(BACKUP_SCHEDULES, f"{stack}-database-backup-schedules", {"kinds": list(kinds)}, stack),
    ]


def test_prod_backups_that_are_too_rare_local_or_without_daily_volume_backups_are_reported():
    found = check(
        data.prod_backups,
        stack_args(backups(dump="0 3 * * 1-5", drill="0 5 1 * *", destination="/backups", daily="3", kinds=["WEEKLY"])),
    )
    assert found == [
        f"{PROD}.backups.dump_schedule is '0 3 * * 1-5', up to 3 days between runs; on prod a logical dump runs at "
        "least every 24 h",
        f"{PROD}.backups.verify_schedule is '0 5 1 * *', up to 31 days between runs; on prod the restore drill runs "
        "at least every 7 days",
        f"{PROD}.backups.destination is /backups; prod's dumps go off-site (an S3 bucket), not beside the database",
        f"{PROD}.backups.retention.daily is 3; prod keeps at least 7 daily dumps",
        f"{PROD}.backups.volume_schedules is ['WEEKLY']; on prod Railway's own volume backups include DAILY",
    ]
    assert all("not-shown" not in message for message in found)


def test_prod_without_backups_is_reported():
    only_the_database = [policy_resource(SERVICE_INSTANCE, "prod-database-settings", POSTGRES)]
    assert check(data.prod_backups, stack_args(only_the_database)) == [
        f"{PROD}.backups.enabled is off (no backup job is registered); prod takes a logical dump at least daily, "
        "proves it with a restore drill at least weekly and keeps it off-site"
    ]
    without_drill = [r for r in backups() if r.name != "prod-backup-verify-settings"]
    (message,) = check(data.prod_backups, stack_args(without_drill))
    assert message.startswith(f"{PROD}.backups.verify_schedule is not set; on prod the restore drill runs")


def test_daily_off_site_backups_with_a_weekly_drill_pass():
    assert check(data.prod_backups, stack_args(backups())) == []
    assert check(data.prod_backups, stack_args(backups(dump="15 3 * * *", drill="45 4 * * 0"))) == []
    assert check(data.prod_backups, stack_args(backups(destination="/backups", stack="staging"))) == []


def test_a_local_prod_is_held_to_the_same_backups():
    command = [
        "python",
        "-m",
        "backup_runner",
        "schedule",
        "--backup-cron",
        "0 * * * *",
        "--verify-cron",
        "30 12 * * *",
    ]
    container = {**CONTAINER, "command": command, "env": ["BACKUP_DESTINATION=/backups", "RETAIN_DAILY=3"]}
    found = check(data.prod_backups, stack_args([policy_resource(DOCKER_CONTAINER, "prod-backup", container)]))
    assert [m.split(" is ")[0] for m in found] == [f"{PROD}.backups.destination", f"{PROD}.backups.retention.daily"]


# volumes-never-shrink

DECLARED = {"file": "stacks/Pulumi.prod.yaml", "key": "mvs:environment.database.volume_size_gb", "unit_mb": 1000.0}


def volume(size_mb, railway_size_mb=None):
    props = {**PROVIDER, "size_mb": size_mb, "declared_as": DECLARED, "mount_path": "/var/lib/postgresql/data"}
    if railway_size_mb is not None:
        props["railway_size_mb"] = railway_size_mb
    return resource_args(VOLUME, "prod-database-volume", props)


def test_a_volume_declared_below_its_size_on_railway_is_reported():
    assert check(data.volumes_never_shrink, volume(40000.0, 50000.0)) == [
        f"{PROD}.database.volume_size_gb is 40, below the 50000 MB volume prod-database-volume has on Railway; "
        "volumes never shrink: set it to at least 50"
    ]
    (message,) = check(data.volumes_never_shrink, volume(50000.0, 50500.0))
    assert message.endswith("set it to at least 51")


def test_a_growing_an_unchanged_or_a_new_volume_passes():
    assert check(data.volumes_never_shrink, volume(60000.0, 50000.0)) == []
    assert check(data.volumes_never_shrink, volume(50000.0, 50000.0)) == []
    assert check(data.volumes_never_shrink, volume(50000.0)) == [], "nothing read from Railway: nothing to shrink"


# database-not-public


def test_a_database_reachable_from_outside_is_reported():
    domain = resource_args(SERVICE_DOMAIN, "prod-database-domain", {"target_port": 5432.0})
    (message,) = check(data.database_not_public, domain)
    assert message.startswith(f"{PROD}.database gets a public domain (prod-database-domain); the database is reached")
    proxy = resource_args(
        VARIABLES, "prod-backend-variables", {"variables": {"DB": "${{Postgres.DATABASE_PUBLIC_URL}}"}}
    )
    assert check(data.database_not_public, proxy) == [
        f"{PROD}.services.backend.env.DB points prod-backend-variables at the database's public TCP proxy (DB); the "
        "database is reached on the private network only, never through a public domain or TCP proxy"
    ]
    ports = [{"ip": "0.0.0.0", "internal": 5432.0, "external": 5432.0}]
    local = resource_args(DOCKER_CONTAINER, "dev-database", {**CONTAINER, "ports": ports}, "dev")
    (message,) = check(data.database_not_public, local)
    assert message.startswith(f"{DEV}.database.host_port publishes Postgres on 0.0.0.0;")


def test_private_database_access_passes():
    assert check(data.database_not_public, resource_args(SERVICE_DOMAIN, "prod-backend-domain", {})) == []
    private = {"variables": {"DATABASE_URL": "${{Postgres.DATABASE_URL}}"}}
    assert check(data.database_not_public, resource_args(VARIABLES, "prod-backend-variables", private)) == []
    local = resource_args(DOCKER_CONTAINER, "dev-database", CONTAINER, "dev")
    assert check(data.database_not_public, local) == []


# no-plaintext-secrets


def variables(values: dict, secret_names=("SESSION_SECRET",), name: str = "prod-backend-variables"):
    props = {**PROVIDER, "variables": values, "secret_names": list(secret_names), "service_name": "backend"}
    return resource_args(VARIABLES, name, props)


def test_a_secret_looking_plaintext_variable_is_reported_without_its_value():
    found = check(
        plaintext.no_plaintext_secrets,
        variables({"API_TOKEN": "abc", "PAYMENTS": "sk_live_" + "9" * 24, "LEGACY_DB": "postgres://u:hunter2@db/x"}),
    )
    assert found == [
        f"{PROD}.services.backend.env.API_TOKEN looks like a secret (by its name) and is stored in plaintext; set it "
        "as a secret instead: services.backend.secrets.API_TOKEN: <secret name>, then `./mvs secrets set prod "
        "<secret name>` (it reads the value from stdin, or asks for it)",
        f"{PROD}.services.backend.env.LEGACY_DB looks like a secret (its value looks like a URL with a password in "
        "it) and is stored in plaintext; set it as a secret instead: services.backend.secrets.LEGACY_DB: <secret "
        "name>, then `./mvs secrets set prod <secret name>` (it reads the value from stdin, or asks for it)",
        f"{PROD}.services.backend.env.PAYMENTS looks like a secret (its value looks like a Stripe key) and is stored "
        "in plaintext; set it as a secret instead: services.backend.secrets.PAYMENTS: <secret name>, then `./mvs "
        "secrets set prod <secret name>` (it reads the value from stdin, or asks for it)",
    ]
    assert not any("hunter2" in m or "sk_live" in m for m in found)
    job = variables({"AWS_SECRET_ACCESS_KEY": "plain"}, (), "prod-backup-variables")
    (message,) = check(plaintext.no_plaintext_secrets, job)
    assert message.startswith(f"{PROD}.backups puts AWS_SECRET_ACCESS_KEY into the variables of prod-backup-variables")
    local = resource_args(DOCKER_CONTAINER, "dev-backend", {**CONTAINER, "env": ["AWS_KEY=AKIA" + "A" * 16]}, "dev")
    (message,) = check(plaintext.no_plaintext_secrets, local)
    assert message.startswith(f"{DEV}.services.backend.env.AWS_KEY looks like a secret (its value looks like an AWS")


def test_declared_secrets_references_and_plain_settings_pass():
    values = {
        "SESSION_SECRET": "Xy3_kQ9-zT2mN8pL4vR7wB1cF6hJ0sD5aE",
        "DATABASE_URL": "${{Postgres.DATABASE_URL}}",
        "NODE_ENV": "production",
        "BACKEND_URL": "http://backend.railway.internal:3000",
    }
    assert check(plaintext.no_plaintext_secrets, variables(values)) == []
    generated = {**CONTAINER, "env": ["POSTGRES_PASSWORD=Xy3_kQ9-zT2mN8pL4vR7wB1cF6hJ0sD5aE"]}
    local = resource_args(DOCKER_CONTAINER, "dev-database", generated, "dev")
    assert check(plaintext.no_plaintext_secrets, local) == [], "dev's generated secrets are random, not credentials"


# shared-project-distinct-environments


def environment(name: str, siblings: dict):
    return resource_args(ENVIRONMENT, "prod-environment", {"name": name, "sibling_environments": siblings})


def test_two_stacks_in_one_environment_of_a_shared_project_are_reported():
    assert check(projects.distinct_environments, environment("staging", {"stacks/Pulumi.staging.yaml": "staging"})) == [
        f"{PROD}.railway.environment is 'staging', which stacks/Pulumi.staging.yaml also uses in the same Railway "
        "project; stacks share a project only in environments of their own, or each up overwrites the other's services"
    ]


def test_distinct_environments_pass():
    assert check(projects.distinct_environments, environment("prod", {"stacks/Pulumi.staging.yaml": "staging"})) == []
    assert check(projects.distinct_environments, environment("prod", {})) == []


# unknown values


def test_values_a_preview_cannot_know_yet_are_skipped_not_reported_nor_raised():
    unknown = UNKNOWN_STRING_VALUE
    rules = [
        (images.images_pinned, settings(image=unknown)),
        (images.prod_images_by_digest, settings(image=unknown)),
        (services.health_checked, settings(healthcheck_path=unknown)),
        (services.restart_bounded, settings(restart_policy_type=unknown)),
        (services.prod_regions_set, settings(region=unknown)),
        (data.volumes_never_shrink, volume(50000.0, unknown)),
        (plaintext.no_plaintext_secrets, variables(unknown)),
        (plaintext.no_plaintext_secrets, variables({"API_TOKEN": unknown})),
        (projects.distinct_environments, environment(unknown, {"stacks/Pulumi.staging.yaml": "staging"})),
    ]
    for rule, args in rules:
        assert check(rule, args) == [], rule.__name__
    assert (
        check(services.prod_public_replicas, stack_args(public(num_replicas=unknown, multi_region_config=None))) == []
    )
    assert check(data.prod_backups, stack_args(backups(dump=unknown, destination=unknown))) == []
