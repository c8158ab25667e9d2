"""A dynamic provider that keeps JSON records in a directory: the smallest real resource.

It exercises every path the project's own providers rely on: the provider class lives in an
importable module (pickled by reference), its token arrives through `configure()` and is never
stored, `read()` reports drift and deletion, `update()` returns complete outputs, and a secret
input stays secret in state.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

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

FIELDS = ("content", "secret_note")


class RecordProvider(ResourceProvider):
    directory: Path | None = None

    def configure(self, req: ConfigureRequest) -> None:
        if not req.config.get("token"):
            raise ValueError("records:token is not set; run `pulumi config set --secret records:token <value>`")
        self.directory = Path(req.config.require("dir"))

    def _path(self, name: str) -> Path:
        assert self.directory is not None, "configure() was not called"
        return self.directory / f"{name}.json"

    def _write(self, name: str, props: dict) -> dict:
        record = {key: props[key] for key in FIELDS}
        text = json.dumps(record, sort_keys=True)
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return {"name": name, **record, "digest": hashlib.sha256(text.encode()).hexdigest()}

    def create(self, props: dict) -> CreateResult:
        return CreateResult(props["name"], self._write(props["name"], props))

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        changed = [key for key in ("name", *FIELDS) if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=["name"] if "name" in changed else [])

    def update(self, _id: str, _olds: dict, news: dict) -> UpdateResult:
        return UpdateResult(self._write(news["name"], news))

    def read(self, id_: str, props: dict) -> ReadResult:
        path = self._path(id_)
        if not path.exists():
            return ReadResult(None, {})
        text = path.read_text()
        record = json.loads(text)
        outs = {"name": id_, **record, "digest": hashlib.sha256(text.encode()).hexdigest()}
        return ReadResult(id_, outs, {"name": id_, **record})

    def delete(self, id_: str, _props: dict) -> None:
        self._path(id_).unlink(missing_ok=True)


class Record(Resource, module="records", name="Record"):
    content: pulumi.Output[str]
    secret_note: pulumi.Output[str]
    digest: pulumi.Output[str]

    def __init__(self, name: str, content: pulumi.Input[str], secret_note: pulumi.Input[str], opts=None):
        props = {"name": name, "content": content, "secret_note": secret_note, "digest": None}
        super().__init__(RecordProvider(), name, props, opts)
