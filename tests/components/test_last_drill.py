"""The dev stack's `last_drill` output, read through the Docker engine's archive API.

There is no Docker engine on this machine, so a stand-in answers on a unix socket the way the
engine's `GET /containers/{name}/archive?path=...` does (a tar of the file; 404 with "No such
container" or "Could not find the file"). The bucket side is tested against a real S3 server in
tests/backups/test_last_drill.py.
"""

from __future__ import annotations

import io
import json
import socketserver
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from pulumi.dynamic import Config, ConfigureRequest

from components.last_drill import LastDrillProvider, container_source

CONTAINER = "mvs-dev-backup"
RECORD = {"backup_id": "20261127T030000Z", "passed": True, "problems": [], "amcheck": "passed",
          "finished_at": "2026-11-27T03:04:05+00:00"}  # fmt: skip


class EngineStandIn(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    files: dict[str, bytes]
    asked: list[str]


class ArchiveHandler(BaseHTTPRequestHandler):
    server: EngineStandIn

    def log_message(self, *_args) -> None:
        return None

    def do_GET(self) -> None:
        url = urlparse(self.path)
        self.server.asked.append(self.path)
        parts = url.path.strip("/").split("/")
        path = parse_qs(url.query).get("path", [""])[0]
        if parts[0] != "containers" or parts[-1] != "archive" or parts[1] != CONTAINER:
            return self._reply(404, json.dumps({"message": f"No such container: {parts[1]}"}).encode())
        if path not in self.server.files:
            message = f"Could not find the file {path} in container {CONTAINER}"
            return self._reply(404, json.dumps({"message": message}).encode())
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            data = self.server.files[path]
            info = tarfile.TarInfo(Path(path).name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        return self._reply(200, archive.getvalue(), "application/x-tar")

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def engine(tmp_path) -> Iterator[EngineStandIn]:
    server = EngineStandIn(str(tmp_path / "docker.sock"), ArchiveHandler)
    server.files, server.asked = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def provider(config: dict[str, str]) -> LastDrillProvider:
    configured = LastDrillProvider()
    configured.configure(ConfigureRequest(Config(config, "mvs")))
    return configured


def drill_of(engine: EngineStandIn, source: dict, previous: dict | None = None) -> dict:
    configured = provider({"docker:host": f"unix://{engine.server_address}"})
    return configured.read("id", {"source": source, "drill": previous}).outs["drill"]


def test_the_record_in_the_backup_container_is_the_output(engine):
    engine.files["/backups/last-drill.json"] = json.dumps(RECORD).encode()
    drill = drill_of(engine, container_source(CONTAINER, "/backups/"))
    assert drill["status"] == "passed"
    assert (drill["finished_at"], drill["backup_id"]) == (RECORD["finished_at"], RECORD["backup_id"])
    assert engine.asked == [f"/containers/{CONTAINER}/archive?path=%2Fbackups%2Flast-drill.json"]


def test_a_failed_drill_and_no_drill_yet_are_told_apart(engine):
    source = container_source(CONTAINER, "/backups")
    assert drill_of(engine, source)["status"] == "none yet"
    engine.files["/backups/last-drill.json"] = json.dumps(
        {**RECORD, "passed": False, "problems": ["public.users: 3 rows restored, manifest says 4"]}
    ).encode()
    drill = drill_of(engine, source)
    assert (drill["status"], drill["problems"]) == ("failed", 1)


def test_no_backup_container_is_unreadable_and_keeps_what_was_known(engine):
    known = {"status": "passed", "finished_at": RECORD["finished_at"], "backup_id": RECORD["backup_id"]}
    drill = drill_of(engine, container_source("mvs-other-backup", "/backups"), previous=known)
    assert drill["status"] == "unreadable"
    assert "no container mvs-other-backup" in drill["reason"]
    assert drill["finished_at"] == RECORD["finished_at"]


def test_the_docker_host_of_the_stack_config_comes_before_the_environment(engine, monkeypatch, tmp_path):
    engine.files["/backups/last-drill.json"] = json.dumps(RECORD).encode()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'nothing-here.sock'}")
    assert drill_of(engine, container_source(CONTAINER, "/backups"))["status"] == "passed"
    without_config = provider({}).create({"source": container_source(CONTAINER, "/backups"), "drill": None})
    assert without_config.outs["drill"]["status"] == "unreadable"
    assert "nothing-here.sock" in without_config.outs["drill"]["reason"]


def test_only_a_change_of_source_is_a_change(engine):
    configured = provider({})
    source = container_source(CONTAINER, "/backups")
    drill = {"status": "passed", "finished_at": RECORD["finished_at"]}
    assert configured.diff("id", {"source": source, "drill": drill}, {"source": source, "drill": None}).changes is False
    moved = container_source(CONTAINER, "/srv/backups")
    assert configured.diff("id", {"source": source, "drill": drill}, {"source": moved, "drill": None}).changes is True
