"""The Docker reachability check that guards `./mvs up dev`, against real sockets."""

from __future__ import annotations

import socket
import threading

import pytest

from mvsctl.docker_engine import unreachable_message, unreachable_reason


def serve_once(sock: socket.socket, reply: bytes, seen: list[bytes]) -> None:
    connection, _ = sock.accept()
    with connection:
        seen.append(connection.recv(4096))
        connection.sendall(reply)


@pytest.fixture
def fake_engine(tmp_path):
    """A Unix socket that answers one request like dockerd's /_ping (or with a given reply)."""
    servers = []

    def start(reply: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK") -> tuple[str, list[bytes]]:
        path = tmp_path / f"docker-{len(servers)}.sock"
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(path))
        server.listen(1)
        seen: list[bytes] = []
        thread = threading.Thread(target=serve_once, args=(server, reply, seen), daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"unix://{path}", seen

    yield start
    for server, thread in servers:
        thread.join(timeout=5)
        server.close()


def test_an_engine_that_answers_ping_is_reachable(fake_engine):
    host, seen = fake_engine()
    assert unreachable_reason(host) is None
    assert seen and seen[0].startswith(b"GET /_ping ")


def test_a_missing_socket_is_unreachable(tmp_path):
    reason = unreachable_reason(f"unix://{tmp_path / 'absent.sock'}")
    assert reason is not None and "No such file" in reason


def test_something_else_on_the_socket_is_not_an_engine(fake_engine):
    host, _ = fake_engine(b"HTTP/1.1 404 Not Found\r\n\r\n")
    reason = unreachable_reason(host)
    assert reason is not None and "404" in reason


def test_a_closed_tcp_port_is_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert unreachable_reason(f"tcp://127.0.0.1:{port}") is not None


def test_the_message_says_nothing_changed_and_what_to_do():
    message = unreachable_message("unix:///var/run/docker.sock", "No such file or directory")
    assert "unix:///var/run/docker.sock" in message
    assert "Nothing was changed" in message
    assert "DOCKER_HOST" in message and "./mvs up dev" in message
