"""The Docker providers' own logic, without an engine: how a container's inspection is read back in
the declaration's terms, which differences replace and which only start or record, the port check
before a replacement, secrets in errors, the files put into a container, and what is pickled into
the state. (On a real engine: tests/docker/test_dev_stack_on_engine.py.)"""

from __future__ import annotations

import copy
import io
import pickle
import re
import socket
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from components.errors import PortInUse
from components.local.client import HOST_CONFIG
from components.local.providers.base import UNKNOWN
from components.local.providers.container import (
    ContainerProvider,
    check_ports,
    observed,
    redact,
    upload_archive,
)
from components.local.providers.image import ImageProvider

ROOT = Path(__file__).resolve().parents[2]
NS = 1_000_000_000
PROPS = {
    "name": "mvs-dev-backend",
    "image": "sha256:" + "a" * 64,
    "command": ["sh", "-c", "node src/migrate.js && exec node src/server.js"],
    "env": ["LOG_LEVEL=debug", "SESSION_SECRET=s3cret-Value"],
    "healthcheck": {
        "test": ["CMD", "node", "-e", "probe"],
        "interval_seconds": 10.0,  # numbers cross Pulumi's RPC as floats
        "timeout_seconds": 5.0,
        "retries": 5.0,
        "start_period_seconds": 15.0,
    },
    "restart": {"policy": "on-failure", "max_retries": 5.0},
    "network": "mvs-dev",
    "aliases": ["backend"],
    "ports": [{"internal": 3000.0, "external": 13000.0, "ip": "127.0.0.1"}],
    "labels": {"com.mvs.stack": "dev", "com.mvs.release": "2.0.0"},
    "volumes": [{"volume": "mvs-dev-pgdata", "path": "/data"}],
    "uploads": [],
    "running": True,
    "wait_seconds": 60,
    "waits_for": "backend to pass its health check (/health)",
    "declared_as": {"file": "stacks/Pulumi.dev.yaml", "ports": {"13000": "services.backend.host_port"}},
    "secret_names": ["SESSION_SECRET"],
}
# What the engine answers for that container: more than was declared (the image's own variables
# and labels, the alias Docker adds, an anonymous volume of the image), in its own units.
INSPECTION = {
    "Name": "/mvs-dev-backend",
    "Image": "sha256:" + "a" * 64,
    "State": {"Status": "running", "Running": True, "Paused": False, "Restarting": False},
    "Config": {
        "Cmd": ["sh", "-c", "node src/migrate.js && exec node src/server.js"],
        "Env": ["PATH=/usr/bin", "SESSION_SECRET=s3cret-Value", "NODE_ENV=production", "LOG_LEVEL=debug"],
        "Healthcheck": {
            "Test": ["CMD", "node", "-e", "probe"],
            "Interval": 10 * NS,
            "Timeout": 5 * NS,
            "Retries": 5,
            "StartPeriod": 15 * NS,
        },
        "Labels": {"com.mvs.stack": "dev", "com.mvs.release": "2.0.0", "maintainer": "the image"},
    },
    "HostConfig": {
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 5},
        "PortBindings": {"3000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "13000"}]},
    },
    "NetworkSettings": {"Networks": {"mvs-dev": {"Aliases": ["backend", "1f2e3d4c5b6a"]}}},
    "Mounts": [
        {"Type": "volume", "Name": "mvs-dev-pgdata", "Destination": "/data"},
        {"Type": "volume", "Name": "0123abcd" * 8, "Destination": "/var/cache/image-volume"},
    ],
}


def read_back(inspection: dict) -> dict:
    return {**PROPS, **observed(inspection, PROPS)}


def drifted(change) -> dict:
    inspection = copy.deepcopy(INSPECTION)
    change(inspection)
    return read_back(inspection)


def test_an_unchanged_container_reads_back_exactly_as_declared():
    assert read_back(INSPECTION) == PROPS
    diff = ContainerProvider().diff("id", read_back(INSPECTION), PROPS)
    assert not diff.changes and not diff.replaces


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda i: i.update(Image="sha256:" + "b" * 64), "image"),
        (lambda i: i["Config"].update(Env=["SESSION_SECRET=other", "LOG_LEVEL=debug"]), "env"),
        (lambda i: i["Config"].update(Env=["LOG_LEVEL=debug"]), "env"),
        (lambda i: i["Config"]["Healthcheck"].update(Interval=30 * NS), "healthcheck"),
        (lambda i: i["Config"].pop("Healthcheck"), "healthcheck"),
        (lambda i: i["HostConfig"].update(RestartPolicy={"Name": "always", "MaximumRetryCount": 0}), "restart"),
        (lambda i: i["HostConfig"]["PortBindings"]["3000/tcp"][0].update(HostIp="0.0.0.0"), "ports"),
        (lambda i: i["NetworkSettings"]["Networks"].update({"mvs-dev": {"Aliases": ["x"]}}), "aliases"),
        (lambda i: i["NetworkSettings"].update(Networks={"bridge": {"Aliases": []}}), "network"),
        (lambda i: i["Config"]["Labels"].update({"com.mvs.release": "1.9.0"}), "labels"),
        (lambda i: i["Mounts"][0].update(Name="another-volume"), "volumes"),
        (lambda i: i["Config"].update(Cmd=["node", "src/server.js"]), "command"),
    ],
)
def test_each_change_made_on_the_engine_reads_as_drift_that_replaces_the_container(change, key):
    found = drifted(change)
    assert found[key] != PROPS[key]
    diff = ContainerProvider().diff("id", found, PROPS)
    assert diff.changes and key in diff.replaces and diff.delete_before_replace


def test_a_stopped_container_is_started_again_not_replaced():
    for state in ({"Status": "exited", "Running": False, "ExitCode": 0}, {"Status": "paused", "Running": True}):
        found = drifted(lambda i, state=state: i["State"].update(state, Paused=state["Status"] == "paused"))
        assert found["running"] is False
        diff = ContainerProvider().diff("id", found, PROPS)
        assert diff.changes and diff.replaces == []


def test_what_the_state_alone_records_changes_nothing_on_the_engine():
    news = {**PROPS, "wait_seconds": 90, "waits_for": "longer", "declared_as": {"file": "x.yaml", "ports": {}}}
    diff = ContainerProvider().diff("id", PROPS, news)
    assert diff.changes and diff.replaces == []


def test_a_declared_change_replaces_and_an_unknown_counts_as_one():
    for key, value in (("env", ["LOG_LEVEL=info"]), ("image", UNKNOWN), ("aliases", ["api"])):
        diff = ContainerProvider().diff("id", PROPS, {**PROPS, key: value})
        assert diff.replaces == [key]


def held_port() -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    return holder


def test_a_port_another_program_holds_is_refused_with_the_port_the_key_and_the_file():
    with held_port() as holder:
        port = holder.getsockname()[1]
        props = {
            **PROPS,
            "ports": [{"internal": 3000, "external": port, "ip": "127.0.0.1"}],
            "declared_as": {"file": "stacks/Pulumi.dev.yaml", "ports": {str(port): "services.backend.host_port"}},
        }
        with pytest.raises(PortInUse) as refused:
            check_ports(props)
        check_ports(props, held_by_old=lambda: {port})  # the container being replaced holds it: fine
    message = str(refused.value)
    assert f"port {port} on 127.0.0.1 is in use" in message
    assert "stacks/Pulumi.dev.yaml publishes it at mvs:environment.services.backend.host_port" in message
    assert "\n" not in message


def test_secret_values_are_cut_out_of_what_an_error_quotes():
    text = "migration failed: connect with s3cret-Value refused; LOG_LEVEL=debug"
    assert redact(text, PROPS) == "migration failed: connect with [secret] refused; LOG_LEVEL=debug"


def test_declared_files_go_in_with_their_path_owner_group_and_mode():
    uploads = [
        {"path": "/etc/alertmanager/alertmanager.yml", "content": "route: {}\n", "owner": "65534", "group": "65534"},
        {"path": "/etc/prometheus/prometheus.yml", "content": "global: {}\n"},
    ]
    uploads[0]["mode"] = "0600"
    with tarfile.open(fileobj=io.BytesIO(upload_archive(uploads))) as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert sorted(members) == ["etc/alertmanager/alertmanager.yml", "etc/prometheus/prometheus.yml"]
        secret = members["etc/alertmanager/alertmanager.yml"]
        assert (secret.mode, secret.uid, secret.gid) == (0o600, 65534, 65534)
        plain = members["etc/prometheus/prometheus.yml"]
        assert (plain.mode, plain.uid) == (0o644, 0)
        assert archive.extractfile(secret).read() == b"route: {}\n"


def test_a_provider_pickles_nothing_of_this_machine_into_the_state():
    request = SimpleNamespace(config={HOST_CONFIG: "unix:///run/user/1000/docker.sock"})
    for provider in (ContainerProvider(), ImageProvider()):
        provider.configure(request)
        assert b"docker.sock" not in pickle.dumps(provider)
        assert pickle.loads(pickle.dumps(provider))._host is None


def test_pulumi_docker_is_gone_from_the_requirements_and_the_code():
    assert not re.search(r"(?im)^pulumi[-_]docker", (ROOT / "requirements.txt").read_text())
    importers = [
        path.relative_to(ROOT).as_posix()
        for folder in ("components", "mvsctl", "policies", "backup_runner", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"^\s*(import|from) pulumi_docker\b", path.read_text(), re.M)
    ]
    assert importers == [] and "pulumi_docker" not in (ROOT / "__main__.py").read_text()


def test_a_build_context_with_added_files_is_what_dockerignore_lets_through_and_those_files():
    from components.local.builds import context_files
    from components.local.providers.image import context_with

    context = ROOT / "app" / "backend"
    options = {"context": str(context), "dockerfile": "Dockerfile", "extra_files": {"extra-ca/proxy.crt": "PEM"}}
    with tarfile.open(fileobj=context_with(options)) as archive:
        names = {member.name for member in archive.getmembers() if member.isfile()}
        assert archive.extractfile("extra-ca/proxy.crt").read() == b"PEM"
    assert names == set(context_files(context, context / "Dockerfile")) | {"extra-ca/proxy.crt"}
    assert not any(name.startswith("node_modules") for name in names)


def test_files_added_to_a_build_are_part_of_its_digest():
    from components.local.builds import build_digest
    from components.spec import BuildOptions

    context = ROOT / "images" / "debian" / "node"
    plain = build_digest(context, context / "Dockerfile", BuildOptions())
    with_ca = build_digest(context, context / "Dockerfile", BuildOptions(), {"extra-ca/a.crt": "one"})
    other_ca = build_digest(context, context / "Dockerfile", BuildOptions(), {"extra-ca/a.crt": "two"})
    assert len({plain, with_ca, other_ca}) == 3
