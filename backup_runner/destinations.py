"""Where backups go: a directory (dev's named volume) or an S3-compatible bucket.

Both offer the same few operations on keys under one prefix. Writes to a directory go to a
temporary name and are renamed when complete, so a crash never leaves a file that looks whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

CHUNK = 1 << 20


class Destination(Protocol):
    url: str

    def put(self, key: str, source: BinaryIO) -> None: ...
    def open(self, key: str) -> BinaryIO: ...
    def size(self, key: str) -> int | None: ...
    def read_if_present(self, key: str) -> bytes | None: ...
    def keys(self) -> list[str]: ...
    def delete(self, key: str) -> None: ...


class DirectoryDestination:
    def __init__(self, path: Path):
        self.path = path
        self.url = str(path)
        path.mkdir(parents=True, exist_ok=True)

    def put(self, key: str, source: BinaryIO) -> None:
        final = self.path / key
        partial = self.path / f".{key}.partial"
        with partial.open("wb") as handle:
            while chunk := source.read(CHUNK):
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(final)

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

    def keys(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.is_file() and not p.name.startswith("."))

    def delete(self, key: str) -> None:
        (self.path / key).unlink(missing_ok=True)


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
        """Without `credentials` (access key, secret key), boto3 finds them as usual (AWS_* variables)."""
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
            config=client_config,
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, source: BinaryIO) -> None:
        self.client.upload_fileobj(source, self.bucket, self._key(key))

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

    def keys(self) -> list[str]:
        found: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(""))
        for page in pages:
            found += [obj["Key"].removeprefix(self._key("")) for obj in page.get("Contents", [])]
        return sorted(found)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


def open_destination(url: str) -> Destination:
    """`s3://bucket/prefix` (endpoint from AWS_ENDPOINT_URL) or a directory path."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return S3Destination(
            parsed.netloc, parsed.path, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_REGION")
        )
    if parsed.scheme in ("", "file"):
        return DirectoryDestination(Path(parsed.path if parsed.scheme else url))
    raise ValueError(f"backup destination {url!r}: use a directory path or s3://bucket/prefix")


def read_chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(CHUNK):
        yield chunk
