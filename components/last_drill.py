"""When the last restore drill ran, and how it went, as a stack output.

The backup runner's `verify` leaves `last-drill.json` beside the backups. This dynamic resource
reads that record from where the stack's backups go: the backup bucket (staging, prod) with the
bucket keys from stack config, or the dev backup container's volume through the Docker engine's
archive API. It reads on `pulumi up` when created or when the destination changes, and on every
`pulumi refresh`; a drill that ran since shows as a changed output, never as drift to undo.

Reading is best effort: a destination that cannot be reached (no network to the bucket, no
Docker engine) gives `status: unreadable` with the reason and keeps the last known drill, and
never fails the deployment it is part of.
"""

from __future__ import annotations

import io
import os
import tarfile
from typing import Any
from urllib.parse import quote, urlparse

import httpx
import pulumi
from pulumi.dynamic import (
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from .drill_record import LAST_DRILL_KEY, parse_record
from .provider_process import prepare
from .spec import NAMESPACE, BackupDestination

prepare()  # this module is loaded into provider processes: see provider_process.py

DOCKER_HOST_CONFIG = "docker:host"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
TIMEOUT_SECONDS = 10.0


def bucket_source(destination: BackupDestination) -> dict[str, Any]:
    """The source of a stack whose backups go to an S3-compatible bucket (secret names, not values).
    Unset keys are left out, as Pulumi leaves out null values."""
    source = {
        "kind": "s3",
        "bucket": destination.bucket,
        "prefix": destination.prefix,
        "endpoint": destination.endpoint,
        "region": destination.region,
        "access_key_secret": destination.access_key_secret,
        "secret_key_secret": destination.secret_key_secret,
    }
    return {key: value for key, value in source.items() if value is not None}


def container_source(container: str, path: str) -> dict[str, Any]:
    """The source of the dev stack: a directory inside its backup container."""
    return {"kind": "container", "container": container, "path": path}


def container_record_path(source: dict[str, Any]) -> str:
    return f"{source['path'].rstrip('/')}/{LAST_DRILL_KEY}"


def describe(source: dict[str, Any]) -> str:
    if source["kind"] == "s3":
        return f"s3://{source['bucket']}/{source['prefix']}/{LAST_DRILL_KEY}"
    return f"{container_record_path(source)} in container {source['container']}"


def summary(record: dict[str, Any] | None, where: str) -> dict[str, Any]:
    """The output: passed/failed with the time it finished, running (a drill started and has not
    finished: it runs, or it was killed), or that no drill has run yet."""
    if record is None:
        return {"status": "none yet", "finished_at": None, "backup_id": None, "problems": 0, "record": where}
    return {
        "status": record.get("status") or ("passed" if record.get("passed") else "failed"),
        "finished_at": record.get("finished_at"),
        "backup_id": record.get("backup_id"),
        "problems": len(record.get("problems") or []),
        "record": where,
    }


def unreadable(previous: dict[str, Any] | None, where: str, reason: str) -> dict[str, Any]:
    """Keeps what was known before, and says why it could not be read now."""
    kept = previous or summary(None, where)
    return {**kept, "status": "unreadable", "reason": reason, "record": where}


def read_from_bucket(source: dict[str, Any], access_key: str | None, secret_key: str | None) -> dict | None:
    """With the keys the stack names, never the machine's own AWS credentials."""
    import boto3  # imported only by stacks that back up to a bucket
    from botocore.config import Config

    missing = [
        f"{NAMESPACE}:{source[name]}"
        for name, value in (("access_key_secret", access_key), ("secret_key_secret", secret_key))
        if not value
    ]
    if missing:
        raise LookupError(f"the stack config has no {' or '.join(missing)}")
    client = boto3.client(
        "s3",
        endpoint_url=source.get("endpoint"),
        region_name=source.get("region") or "us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(connect_timeout=TIMEOUT_SECONDS, read_timeout=TIMEOUT_SECONDS, retries={"max_attempts": 2}),
    )
    prefix = source["prefix"].strip("/")
    try:
        body = client.get_object(
            Bucket=source["bucket"], Key=f"{prefix}/{LAST_DRILL_KEY}" if prefix else LAST_DRILL_KEY
        )
    except client.exceptions.NoSuchKey:
        return None
    return parse_record(body["Body"].read())


def docker_client(host: str) -> httpx.Client:
    url = urlparse(host)
    if url.scheme == "unix":
        return httpx.Client(
            transport=httpx.HTTPTransport(uds=url.path), base_url="http://docker", timeout=TIMEOUT_SECONDS
        )
    if url.scheme == "tcp":
        return httpx.Client(base_url=f"http://{url.hostname}:{url.port or 2375}", timeout=TIMEOUT_SECONDS)
    raise ValueError(f"Docker host {host}: only unix:// and tcp:// engines can be read")


def read_from_container(source: dict[str, Any], docker_host: str) -> dict | None:
    """The record from the backup container's volume, via GET /containers/{name}/archive."""
    path = container_record_path(source)
    try:
        with docker_client(docker_host) as client:
            response = client.get(f"/containers/{quote(source['container'])}/archive", params={"path": path})
    except httpx.TransportError as error:
        raise ConnectionError(f"no Docker engine answers at {docker_host}: {error}") from error
    if response.status_code == 404:
        message = response.json().get("message", "") if response.content else ""
        if "no such container" in message.lower():
            raise LookupError(f"no container {source['container']} (is the dev stack up?)")
        return None
    response.raise_for_status()
    with tarfile.open(fileobj=io.BytesIO(response.content)) as archive:
        member = archive.next()
        handle = archive.extractfile(member) if member else None
        if handle is None:
            return None
        return parse_record(handle.read())


class LastDrillProvider(ResourceProvider):
    def __init__(self) -> None:
        super().__init__()
        self._config: Any = None

    def configure(self, req: ConfigureRequest) -> None:
        self._config = req.config  # the full stack config, secrets decrypted: read only what a source names

    def __getstate__(self) -> dict[str, Any]:
        return {}  # never pickle configuration (bucket keys) into state

    def __setstate__(self, _state: dict[str, Any]) -> None:
        self._config = None

    def _setting(self, key: str | None) -> str | None:
        return self._config.get(key) if (self._config is not None and key) else None

    def _drill(self, source: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        where = describe(source)
        keys: list[str] = []
        try:
            if source["kind"] == "s3":
                keys = [
                    self._setting(f"{NAMESPACE}:{source[name]}") for name in ("access_key_secret", "secret_key_secret")
                ]
                record = read_from_bucket(source, *keys)
            else:
                host = self._setting(DOCKER_HOST_CONFIG) or os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
                record = read_from_container(source, host)
        except Exception as error:  # a status read must never fail the deployment
            reason = f"{type(error).__name__}: {error}"
            for key in filter(None, keys):  # the reason becomes an output: never with a key in it
                reason = reason.replace(key, "[secret]")
            return unreadable(previous, where, reason[:300])
        return summary(record, where)

    def _outputs(self, props: dict[str, Any]) -> dict[str, Any]:
        return {"source": props["source"], "drill": self._drill(props["source"], props.get("drill"))}

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=olds.get("source") != news.get("source"))

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"last-drill:{describe(props['source'])}", self._outputs(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._outputs({**news, "drill": olds.get("drill")}))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        outs = self._outputs(props)
        return ReadResult(id_, outs, {"source": outs["source"]})


class LastDrill(Resource, module="backups", name="LastDrill"):
    """Outputs `drill`: status (passed, failed, none yet, unreadable), finished_at, backup_id."""

    drill: pulumi.Output[dict]

    def __init__(self, name: str, source: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(LastDrillProvider(), name, {"source": source, "drill": None}, opts)
