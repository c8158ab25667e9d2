"""The rules on what the components really register (under Pulumi mocks) for the default stacks, for
declarations changed the way a risky pull request would change them, and for component bugs
simulated by editing what was registered."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.policies.harness import SECRETS, findings, named, raw_declaration, registered

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "7" * 64
PROD = "stacks/Pulumi.prod.yaml: mvs:environment"
STAGING = "stacks/Pulumi.staging.yaml: mvs:environment"


def keys(found: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each rule's findings by the declaration key they name."""
    return {rule: sorted(m.split(": ", 1)[1].split(" ", 1)[0] for m in messages) for rule, messages in found.items()}


def pinned_by_digest(stack: str) -> dict:
    """The stack's declaration with every image named by its digest, the database image included."""
    raw = raw_declaration(stack)
    raw["release"]["images"] = {svc: f"{ref}@{DIGEST}" for svc, ref in raw["release"]["images"].items()}
    raw["database"]["image"] = f"ghcr.io/railwayapp-templates/postgres-ssl:15.10@{DIGEST}"
    raw["backups"]["runner_image"] = f"ghcr.io/mvs-app/backup-runner:0.1.0@{DIGEST}"
    return raw


def test_the_default_dev_stack_passes_every_rule():
    assert findings(registered("dev")) == {}
    monitored = raw_declaration("dev")
    monitored["monitoring"]["enabled"] = True
    assert findings(registered("dev", monitored)) == {}


def test_the_default_railway_stacks_pass_every_rule_but_the_digests_prod_waives():
    """staging passes everything. prod names its images by tag, which only `prod-images-by-digest`
    minds, and prod's stack file waives exactly that rule, saying who and why."""
    assert findings(registered("staging")) == {}
    assert keys(findings(registered("prod"))) == {
        "prod-images-by-digest": [
            "mvs:environment.backups.runner_image",
            "mvs:environment.backups.runner_image",
            "mvs:environment.database.image",
            "mvs:environment.release.images.backend",
            "mvs:environment.release.images.frontend",
        ],
    }
    waivers = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())["config"]["mvs:policyWaivers"]
    assert [w["rule"] for w in waivers] == ["prod-images-by-digest"] and all(w["by"] and w["reason"] for w in waivers)


def test_without_a_pinned_database_image_railway_runs_a_moving_tag_and_is_stopped():
    raw = raw_declaration("staging")
    del raw["database"]["image"]
    assert keys(findings(registered("staging", raw))) == {"images-pinned": ["mvs:environment.database.image"]}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_railway_stacks_with_their_images_pinned_by_digest_pass_every_rule(stack):
    assert findings(registered(stack, pinned_by_digest(stack))) == {}


def prod_changed(change) -> dict[str, list[str]]:
    raw = pinned_by_digest("prod")
    change(raw)
    return findings(registered("prod", raw))


def test_one_replica_of_a_public_prod_service_is_stopped_by_name():
    found = prod_changed(lambda raw: raw["services"]["backend"].update(replicas=1))
    assert found == {
        "prod-public-replicas": [
            f"{PROD}.services.backend.replicas is 1; public services on prod run at least 2 replicas, so one crash "
            "or one deploy never takes the service down"
        ]
    }


def test_prod_without_backups_is_stopped():
    found = prod_changed(lambda raw: raw["backups"].update(enabled=False))
    assert found == {
        "prod-backups": [
            f"{PROD}.backups.enabled is off (no backup job is registered); prod takes a logical dump at least daily, "
            "proves it with a restore drill at least weekly and keeps it off-site"
        ]
    }


def test_rarer_backups_and_no_daily_volume_backups_on_prod_are_stopped():
    def change(raw):
        raw["backups"].update(dump_schedule="0 3 * * 0", verify_schedule="0 4 1 * *", volume_schedules=["WEEKLY"])
        raw["backups"]["retention"]["daily"] = 2

    assert keys(prod_changed(change)) == {
        "prod-backups": [
            "mvs:environment.backups.dump_schedule",
            "mvs:environment.backups.retention.daily",
            "mvs:environment.backups.verify_schedule",
            "mvs:environment.backups.volume_schedules",
        ]
    }


def test_a_prod_image_by_tag_is_stopped():
    found = prod_changed(lambda raw: raw["release"]["images"].update(backend="ghcr.io/mvs-app/backend:2.0.1"))
    assert found == {
        "prod-images-by-digest": [
            f"{PROD}.release.images.backend is ghcr.io/mvs-app/backend:2.0.1; on prod every image is named by its "
            "digest (name:tag@sha256:…), so a tag re-pushed after review cannot reach production"
        ]
    }


def test_an_unprotected_prod_database_is_stopped_for_each_thing_it_needs():
    found = prod_changed(lambda raw: raw["database"].update(protect=False))
    unprotected = sorted(m.split(" leaves ")[1].split(" unprotected")[0] for m in found.pop("prod-data-protected"))
    assert found == {}
    assert unprotected == [
        "prod-database (Service)",
        "prod-database-backup-schedules (BackupSchedules)",
        "prod-database-deployment (Deployment)",
        "prod-database-settings (ServiceInstance)",
        "prod-database-variables (Variables)",
        "prod-database-volume (Volume)",
        "prod-environment (Environment)",
    ]


def test_service_changes_a_reviewer_would_stop_are_stopped():
    def change(raw):
        backend = raw["services"]["backend"]
        backend["restart"] = {"policy": "always"}
        backend.pop("pre_deploy_command")
        raw["services"]["frontend"].pop("region")
        raw["services"]["frontend"]["env"]["LEGACY_DATABASE"] = "postgres://mvs:hunter2@old-db.example:5432/mvs"

    found = prod_changed(change)
    assert keys(found) == {
        "services-restart-bounded": ["mvs:environment.services.backend.restart"],
        "migrations-before-deploy": ["mvs:environment.services.backend.pre_deploy_command"],
        "prod-regions-set": ["mvs:environment.services.frontend.region"],
        "no-plaintext-secrets": ["mvs:environment.services.frontend.env.LEGACY_DATABASE"],
    }
    assert not any("hunter2" in m for messages in found.values() for m in messages)


def test_prod_in_stagings_environment_is_stopped():
    found = prod_changed(lambda raw: raw.setdefault("railway", {}).update(environment="staging"))
    assert found == {
        "shared-project-distinct-environments": [
            f"{PROD}.railway.environment is 'staging', which stacks/Pulumi.staging.yaml also uses in the same Railway "
            "project; stacks share a project only in environments of their own, or each up overwrites the other's "
            "services"
        ]
    }


def test_a_mutable_image_the_components_run_is_stopped_on_staging_and_reported_on_dev():
    """The declaration refuses a moving tag it is given; these are images the components choose."""
    registrations = registered("staging", pinned_by_digest("staging"))
    named(registrations, "staging-backup-verify-settings").inputs["image"] = "ghcr.io/mvs-app/backup-runner:main"
    assert findings(registrations) == {
        "images-pinned": [
            f"{STAGING}.backups.runner_image is ghcr.io/mvs-app/backup-runner:main: the tag 'main' is not immutable "
            "(it can be re-pointed at a new build); every image is pinned by digest (name@sha256:…) or by an "
            "immutable version tag, never latest"
        ]
    }
    dev = raw_declaration("dev")
    dev["monitoring"].update(enabled=True)
    registrations = registered("dev", dev)
    named(registrations, "dev-grafana-image").inputs["name"] = "grafana/grafana:latest"
    assert keys(findings(registrations)) == {"images-pinned": ["mvs:environment.monitoring.grafana_image"]}


# Component bugs: what the components register, edited as a bug would leave it.


@pytest.fixture
def prod_registered():
    return registered("prod", pinned_by_digest("prod"))


def test_a_component_that_drops_a_health_check_is_caught(prod_registered):
    del named(prod_registered, "prod-backend-settings").inputs["healthcheck_path"]
    assert findings(prod_registered) == {
        "services-health-checked": [
            f"{PROD}.services.backend.health_check reaches prod-backend-settings without a health check path; every "
            "long-running service has a health check, so a deployment that never serves fails instead of going live"
        ]
    }


def test_a_component_that_drops_the_local_health_check_or_restart_bound_is_caught():
    registrations = registered("dev")
    named(registrations, "dev-backend").inputs.pop("healthcheck")
    named(registrations, "dev-frontend").inputs["restart"] = {"policy": "always", "max_retries": 0}
    assert keys(findings(registrations)) == {
        "services-health-checked": ["mvs:environment.services.backend.health_check"],
        "services-restart-bounded": ["mvs:environment.services.frontend.restart"],
    }


def test_a_component_that_forgets_protection_or_a_secret_or_exposes_the_database_is_caught(prod_registered):
    named(prod_registered, "prod-database-volume").protect = False
    named(prod_registered, "prod-backend-variables").inputs["secret_names"] = []
    named(prod_registered, "prod-frontend-variables").inputs["variables"]["DB"] = "${{Postgres.DATABASE_PUBLIC_URL}}"
    named(prod_registered, "prod-backup-settings").inputs["num_replicas"] = 2.0
    assert keys(findings(prod_registered)) == {
        "prod-data-protected": ["mvs:environment.database.protect"],
        "no-plaintext-secrets": ["mvs:environment.services.backend.env.SESSION_SECRET"],
        "database-not-public": ["mvs:environment.services.frontend.env.DB"],
        "migrations-before-deploy": ["mvs:environment.services.frontend.pre_deploy_command"],  # it uses the database
        "cron-jobs-run-once": ["mvs:environment.backups.dump_schedule"],
    }


def test_messages_never_carry_a_urn_or_a_secret_and_a_waiver_prefixes_them(prod_registered):
    raw = pinned_by_digest("prod")
    raw["services"]["backend"]["replicas"] = 1
    raw["database"]["protect"] = False
    registrations = registered("prod", raw)
    del named(registrations, "prod-frontend-settings").inputs["healthcheck_path"]
    waiver = "waived by alice: a one-off restore test"
    found = findings(registrations, {"stack": "prod", "file": "stacks/Pulumi.prod.yaml", "waiver": waiver})
    messages = [m for ms in found.values() for m in ms]
    assert len(found) == 3 and len(messages) == 9
    assert all(m.startswith(f"WAIVED ({waiver}): {PROD}.") for m in messages)
    assert not any("urn:pulumi" in m or any(secret in m for secret in SECRETS.values()) for m in messages)


def test_the_config_names_the_stack_file_the_wiring_gives():
    raw = pinned_by_digest("prod")
    raw["services"]["backend"]["replicas"] = 1
    found = findings(registered("prod", raw), {"stack": "prod", "file": "deploy/prod.yaml"})
    assert [m.split(" is ")[0] for m in found["prod-public-replicas"]] == [
        "deploy/prod.yaml: mvs:environment.services.backend.replicas"
    ]
    assert findings(registered("prod", raw), {"stack": "prod-eu"}) == {}, "prod's rules hold for the stack prod"
