"""The dev stack as the component declares it, and that declaration applied to a real engine.

The pulumi-docker provider plugin cannot be had on these machines, so `pulumi up` of dev cannot
run here. What can be proven is everything on either side of the provider: the arguments the
`LocalStack` component registers (taken under Pulumi mocks, exactly as the engine would receive
them) are applied to a real Docker engine with the Docker SDK, the way the provider applies them.
Any argument this module does not know how to apply fails the test, so a new setting is never
silently left out; a health check command missing from the image, a wrong database host or a bad
restart policy shows up as a container that never turns healthy or never comes back.
"""

from __future__ import annotations

import io
import re
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pulumi
from docker.models.containers import Container

from components.environment import build_environment
from components.spec import parse_environment
from tests.components.recording import RecordingMocks, RecordingMonitor, Registration

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/image:Image"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
GO_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(\d+)s$")

# Container arguments this module applies; anything else registered fails the test.
APPLIED = {
    "name",
    "image",
    "command",
    "envs",
    "healthcheck",
    "restart",
    "maxRetryCount",
    "networksAdvanced",
    "ports",
    "labels",
    "volumes",
    "wait",
    "waitTimeout",
    "mustRun",
    "uploads",
}


@dataclass
class Declared:
    registrations: list[Registration]
    stack: str = "dev"

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def named(self, name: str) -> Registration:
        (found,) = [r for r in self.registrations if r.name == name]
        return found

    def by_urn(self, urn: str) -> Registration:
        (found,) = [r for r in self.registrations if r.urn == urn]
        return found

    def image_ref(self, container: Registration) -> str:
        """The image a container runs, by the name the engine knows it under."""
        (source,) = container.property_dependencies["image"]
        return self.by_urn(source).inputs["name"]


def declare(raw: dict, secrets: dict[str, str], project_root: Path, stack: str = "dev") -> Declared:
    """Everything `LocalStack` registers for the declaration `raw`, under Pulumi mocks."""
    pulumi.runtime.set_all_config(secrets, list(secrets))
    monitor = RecordingMonitor(RecordingMocks())
    pulumi.runtime.set_mocks(RecordingMocks(), project="mvs", stack=stack, preview=False, monitor=monitor)
    spec = parse_environment(raw, f"stacks/Pulumi.{stack}.yaml")

    @pulumi.runtime.test
    def run():
        environment = build_environment(stack, spec, project_root)
        return pulumi.Output.all(environment.urls, environment.connection_string)

    try:
        run()
    finally:
        pulumi.runtime.set_all_config({}, [])
    return Declared(list(monitor.registrations), stack)


def nanoseconds(duration: str) -> int:
    match = GO_DURATION.fullmatch(duration)
    assert match, f"not a duration Docker reports back: {duration!r}"
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return (hours * 3600 + minutes * 60 + seconds) * 1_000_000_000


def go_duration_of(ns: int) -> str:
    """What pulumi-docker's read writes back for a health check duration (Go's Duration.String())."""
    seconds = ns // 1_000_000_000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s" if minutes else f"{secs}s"


def apply_network(client: docker.DockerClient, network: Registration) -> None:
    labels = {x["label"]: x["value"] for x in network.inputs.get("labels", [])}
    client.networks.create(network.inputs["name"], driver=network.inputs.get("driver", "bridge"), labels=labels)


def apply_volume(client: docker.DockerClient, volume: Registration) -> None:
    labels = {x["label"]: x["value"] for x in volume.inputs.get("labels", [])}
    client.volumes.create(volume.inputs["name"], labels=labels)


def create_container(client: docker.DockerClient, declared: Declared, reg: Registration) -> Container:
    inputs = reg.inputs
    unknown = set(inputs) - APPLIED
    assert not unknown, f"{reg.name} registers {sorted(unknown)}, which this test does not apply to the engine"
    check = inputs["healthcheck"]
    (network,) = inputs["networksAdvanced"]
    endpoint = client.api.create_endpoint_config(aliases=network.get("aliases"))
    return client.containers.create(
        declared.image_ref(reg),
        command=inputs.get("command"),
        name=inputs["name"],
        environment=inputs.get("envs", []),
        healthcheck={
            "test": check["tests"],
            "interval": nanoseconds(check["interval"]),
            "timeout": nanoseconds(check["timeout"]),
            "retries": int(check["retries"]),  # numbers arrive from Pulumi's RPC as floats
            "start_period": nanoseconds(check["startPeriod"]),
        },
        restart_policy={"Name": inputs["restart"], "MaximumRetryCount": int(inputs.get("maxRetryCount", 0))},
        network=network["name"],
        networking_config={network["name"]: endpoint},
        ports={f"{int(p['internal'])}/tcp": (p["ip"], int(p["external"])) for p in inputs.get("ports", [])},
        labels={x["label"]: x["value"] for x in inputs.get("labels", [])},
        volumes={v["volumeName"]: {"bind": v["containerPath"], "mode": "rw"} for v in inputs.get("volumes", [])},
    )


def upload_archive(uploads: list[dict[str, Any]]) -> bytes:
    """The files of `uploads` as one tar to extract at /, as the provider copies them in: each at
    its absolute path, with its owner, group and mode (numeric ids only: a name would be resolved
    on the machine running Pulumi, which says nothing of the image)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for upload in uploads:
            unknown = set(upload) - {"file", "content", "owner", "group", "permissions", "executable"}
            assert not unknown, f"an upload sets {sorted(unknown)}, which this test does not apply"
            data = upload["content"].encode()
            member = tarfile.TarInfo(upload["file"].lstrip("/"))
            member.size = len(data)
            member.mode = int(upload.get("permissions") or ("0755" if upload.get("executable") else "0644"), 8)
            member.uid = int(upload.get("owner") or 0)
            member.gid = int(upload.get("group") or 0)
            member.mtime = int(time.time())
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def wait_healthy(container: Container, seconds: float) -> str:
    """Wait as the provider's `wait` does: healthy, or the last status when time runs out."""
    end = time.monotonic() + seconds
    while True:
        container.reload()
        state = container.attrs["State"]
        status = state.get("Health", {}).get("Status", "none") if state["Running"] else state["Status"]
        if status == "healthy" or time.monotonic() > end:
            return status
        time.sleep(0.5)


def start_container(client: docker.DockerClient, declared: Declared, reg: Registration) -> Container:
    """Create, start and wait as `Container(wait=True, must_run=True)` does; fail with its logs."""
    container = create_container(client, declared, reg)
    if reg.inputs.get("uploads"):
        assert container.put_archive("/", upload_archive(reg.inputs["uploads"])), f"{reg.name}: uploads refused"
    container.start()
    if reg.inputs.get("wait"):
        status = wait_healthy(container, reg.inputs["waitTimeout"])
        logs = container.logs(tail=30).decode(errors="replace")
        assert status == "healthy", f"{reg.name} is {status} after {reg.inputs['waitTimeout']} s:\n{logs}"
    if reg.inputs.get("mustRun"):
        container.reload()
        assert container.attrs["State"]["Running"], f"{reg.name} is not running"
    return container


def read_back(container: Container) -> dict[str, Any]:
    """The fields the provider's read writes back into the state, as it writes them."""
    container.reload()
    attrs = container.attrs
    check = attrs["Config"]["Healthcheck"]
    policy = attrs["HostConfig"]["RestartPolicy"]
    ports = [
        {"internal": int(spec.split("/")[0]), "external": int(b["HostPort"]), "ip": b["HostIp"]}
        for spec, bindings in (attrs["HostConfig"].get("PortBindings") or {}).items()
        for b in bindings
    ]
    return {
        "image": attrs["Image"],
        "healthcheck": {
            "tests": check["Test"],
            "interval": go_duration_of(check["Interval"]),
            "timeout": go_duration_of(check["Timeout"]),
            "retries": check["Retries"],
            "startPeriod": go_duration_of(check["StartPeriod"]),
        },
        "restart": policy["Name"],
        "maxRetryCount": policy["MaximumRetryCount"],
        "ports": ports,
    }
