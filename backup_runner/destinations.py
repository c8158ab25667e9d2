"""Where backups go: a directory (dev's named volume) or an S3-compatible bucket.

Both offer the same few operations on keys under one prefix, with the same promises:
- a write never replaces another run's object unless asked to (`overwrite`): a directory links
  the finished file into place, which fails if the name exists; a bucket writes with
  `If-None-Match: *`;
- a write that fails removes what it had written (a partial file, an unfinished multipart
  upload); one that is killed leaves it as a `Leftover`, which the next run or prune discards
  once nothing has touched it for a while;
- a full disk is one `BackupDestinationFull`, never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

from components.drill_record import LAST_DRILL_KEY
from components.errors import BackupDestinationFull, BackupExists, BackupSettingsInvalid

from .manifest import split_key

CHUNK = 1 << 20
PART_SIZE = 16 << 20  # multipart uploads: parts grow every 1,000 so 10,000 parts hold ~860 GiB
# How long the bucket may stay silent before a request to it fails (then botocore retries it, up to
# AWS_MAX_ATTEMPTS): a network that goes away mid-upload must end the run with its message, never
# hang it. 60 s of silence on one socket call, not for a whole request: a 16 MiB+ part on a slow
# link keeps bytes moving and is not cut, while S3 and S3-compatible servers answer a part (or
# any other request) within seconds of its last byte; connecting takes milliseconds, so 10 s.
S3_TIMEOUT_VARIABLE = "BACKUP_S3_TIMEOUT_SECONDS"
S3_TIMEOUT_SECONDS = 60.0
S3_TIMEOUT_LIMIT = 3600.0  # an hour of silence is a dead bucket; more overflows the socket timeout
S3_CONNECT_TIMEOUT_SECONDS = 10.0
PARTIAL = re.compile(r"\.(?P<key>.+?)(?:\.[0-9a-f]{16})?\.partial")


@dataclass(frozen=True)
class Stored:
    size: int
    modified: datetime


@dataclass(frozen=True)
class Leftover:
    """Unfinished work of a run: a partial file, or a multipart upload never completed."""

    key: str  # the object it was meant to become
    what: str  # how `list` shows it
    last_activity: datetime
    handle: str  # what `discard` needs to remove it


class Destination(Protocol):
    url: str

    def put(self, key: str, source: BinaryIO, overwrite: bool = False) -> None: ...
    def open(self, key: str) -> BinaryIO: ...
    def size(self, key: str) -> int | None: ...
    def read_if_present(self, key: str) -> bytes | None: ...
    def entries(self) -> dict[str, Stored]: ...
    def delete(self, key: str) -> None: ...
    def leftovers(self) -> list[Leftover]: ...
    def discard(self, leftover: Leftover) -> None: ...


def is_runners(key: str) -> bool:
    return key == LAST_DRILL_KEY or split_key(key) is not None


class DirectoryDestination:
    def __init__(self, path: Path):
        self.path = path
        self.url = str(path)
        path.mkdir(parents=True, exist_ok=True)

    def put(self, key: str, source: BinaryIO, overwrite: bool = False) -> None:
        final = self.path / key
        partial = self.path / f".{key}.{secrets.token_hex(8)}.partial"  # this run's alone
        try:
            with partial.open("xb") as handle:
                while chunk := source.read(CHUNK):
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            if overwrite:
                partial.replace(final)
            else:
                try:
                    os.link(partial, final)  # atomic, and refuses an existing name
                except FileExistsError:
                    raise BackupExists(f"{final} already exists; it was left as it was") from None
            self._sync_directory()
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise BackupDestinationFull(
                    f"the backup destination {self.path} is full (writing {key}); the partial file was removed "
                    "and existing backups were not touched. Free space there, or keep fewer backups (RETAIN_*)"
                ) from None
            raise
        finally:
            partial.unlink(missing_ok=True)

    def _sync_directory(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def open(self, key: str) -> BinaryIO:
        return (self.path / key).open("rb")

    def size(self, key: str) -> int | None:
        path = self.path / key
        return path.stat().st_size if path.exists() else None

    def read_if_present(self, key: str) -> bytes | None:
        try:
            return (self.path / key).read_bytes()
        except FileNotFoundError:
            return None

    def entries(self) -> dict[str, Stored]:
        found = {}
        for path in self.path.iterdir():
            with contextlib.suppress(FileNotFoundError):  # deleted while listing
                if path.is_file() and not path.name.startswith("."):
                    stat = path.stat()
                    found[path.name] = Stored(stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))
        return found

    def delete(self, key: str) -> None:
        (self.path / key).unlink(missing_ok=True)

    def leftovers(self) -> list[Leftover]:
        found = []
        for path in self.path.iterdir():
            match = PARTIAL.fullmatch(path.name)
            if match and is_runners(match["key"]):
                with contextlib.suppress(FileNotFoundError):
                    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                    found.append(Leftover(match["key"], f"partial file {path.name}", modified, path.name))
        return sorted(found, key=lambda leftover: leftover.handle)

    def discard(self, leftover: Leftover) -> None:
        (self.path / leftover.handle).unlink(missing_ok=True)


def s3_timeout_seconds(environ: dict[str, str] | None = None) -> float:
    """BACKUP_S3_TIMEOUT_SECONDS, or 60: how long the bucket may stay silent (see S3_TIMEOUT_SECONDS)."""
    raw = (os.environ if environ is None else environ).get(S3_TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return S3_TIMEOUT_SECONDS
    try:
        seconds = float(raw) if raw.isascii() else 0.0  # float() takes other scripts' digits too
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= S3_TIMEOUT_LIMIT:
        raise BackupSettingsInvalid(
            f"{S3_TIMEOUT_VARIABLE}: found {raw[:20]!r}; allowed: a number of seconds above 0 and at most "
            f"{S3_TIMEOUT_LIMIT:.0f}"
        )
    return seconds


def s3_client_config(timeout: float = S3_TIMEOUT_SECONDS) -> object:
    """botocore's Config with the runner's timeouts (retries stay as AWS_MAX_ATTEMPTS says)."""
    from botocore.config import Config

    return Config(connect_timeout=min(S3_CONNECT_TIMEOUT_SECONDS, timeout), read_timeout=timeout)


def read_up_to(source: BinaryIO, size: int) -> bytes:
    """Exactly `size` bytes, fewer only at the end of the stream (pipes return short reads)."""
    parts, remaining = [], size
    while remaining and (chunk := source.read(min(remaining, CHUNK))):
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


class S3Destination:
    """An S3-compatible bucket (AWS, MinIO, Railway buckets, moto in tests) via boto3."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        credentials: tuple[str | None, str | None] = (None, None),
        client_config: object | None = None,
    ):
        """Without `credentials` (access key, secret key), boto3 finds them as usual (AWS_* variables).
        Without `client_config`, the runner's timeouts (`s3_client_config`)."""
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}"
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            aws_access_key_id=credentials[0],
            aws_secret_access_key=credentials[1],
            config=client_config if client_config is not None else s3_client_config(),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, source: BinaryIO, overwrite: bool = False) -> None:
        """One PUT when it fits in a part, else a multipart upload that reads the next part while
        the last one is sent, and is aborted if anything fails."""
        condition = {} if overwrite else {"IfNoneMatch": "*"}
        target = {"Bucket": self.bucket, "Key": self._key(key)}
        try:
            chunk = read_up_to(source, PART_SIZE)
            if len(chunk) < PART_SIZE:
                self.client.put_object(**target, Body=chunk, **condition)
                return
            upload_id = self.client.create_multipart_upload(**target)["UploadId"]
            try:
                parts = self._upload_parts(target, upload_id, source, chunk)
                self.client.complete_multipart_upload(
                    **target, UploadId=upload_id, MultipartUpload={"Parts": parts}, **condition
                )
            except BaseException:
                with contextlib.suppress(Exception):  # if the bucket is gone too, the next run aborts it
                    self.client.abort_multipart_upload(**target, UploadId=upload_id)
                raise
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise BackupExists(f"{self.url}/{key} already exists; it was left as it was") from None
            raise

    def _upload_parts(self, target: dict, upload_id: str, source: BinaryIO, chunk: bytes) -> list[dict]:
        """Each part is sent while the next is read, both on threads of their own, and a failed send
        ends the upload at once: the source (pg_dump) may be slow to give the next part, or stall,
        and the upload must not wait on it to find out it has already failed. The caller stops the
        source then, which ends a read still waiting on it."""
        parts: list[dict] = []
        reader = ThreadPoolExecutor(1)
        try:
            with ThreadPoolExecutor(1) as sender:
                while chunk:
                    number = len(parts) + 1
                    sending = sender.submit(
                        self.client.upload_part, **target, UploadId=upload_id, PartNumber=number, Body=chunk
                    )
                    reading = reader.submit(read_up_to, source, PART_SIZE * (1 + number // 1000))
                    wait((sending, reading), return_when=FIRST_EXCEPTION)
                    parts.append({"PartNumber": number, "ETag": sending.result()["ETag"]})
                    chunk = reading.result()
        finally:
            reader.shutdown(wait=False)  # a read still waiting on the source ends when the source does
        return parts

    def open(self, key: str) -> BinaryIO:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]

    def size(self, key: str) -> int | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        except self.client.exceptions.ClientError:
            return None

    def read_if_present(self, key: str) -> bytes | None:
        """One GET; a missing key is None (not a HEAD first)."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def entries(self) -> dict[str, Stored]:
        found = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(""))
        for page in pages:
            for obj in page.get("Contents", []):
                found[obj["Key"].removeprefix(self._key(""))] = Stored(obj["Size"], obj["LastModified"])
        return found

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def leftovers(self) -> list[Leftover]:
        found = []
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=self._key(""))
        for page in pages:
            for upload in page.get("Uploads", []):
                key = upload["Key"].removeprefix(self._key(""))
                if not is_runners(key):
                    continue
                parts = self.client.list_parts(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                activity = max([upload["Initiated"], *(p["LastModified"] for p in parts.get("Parts", []))])
                found.append(Leftover(key, f"unfinished upload of {key}", activity, upload["UploadId"]))
        return found

    def discard(self, leftover: Leftover) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._key(leftover.key), UploadId=leftover.handle)


def open_destination(url: str) -> Destination:
    """`s3://bucket/prefix` (endpoint from AWS_ENDPOINT_URL, timeouts from BACKUP_S3_TIMEOUT_SECONDS) or a
    directory path."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return S3Destination(
            parsed.netloc,
            parsed.path,
            os.environ.get("AWS_ENDPOINT_URL"),
            os.environ.get("AWS_REGION"),
            client_config=s3_client_config(s3_timeout_seconds()),
        )
    if parsed.scheme in ("", "file"):
        return DirectoryDestination(Path(parsed.path if parsed.scheme else url))
    raise ValueError(f"backup destination {url!r}: use a directory path or s3://bucket/prefix")


def read_chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(CHUNK):
        yield chunk
