"""SIGTERM (docker stop, a Railway redeploy) and SIGINT (Ctrl-C): stop accepting, let a request
in flight finish, close the database pool, exit 0."""

from __future__ import annotations

import signal
import socket

import httpx
import psycopg
import pytest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_backend_exits_0_on_a_stop_signal(backend, sig):
    assert httpx.get(f"{backend.url}/health").status_code == 200
    assert backend.stop(sig) == 0
    messages = [r["msg"] for r in backend.log_records()]
    assert messages[-2:] == ["shutting down", "stopped"]


def test_an_open_keep_alive_connection_does_not_hold_the_backend_up(backend):
    with httpx.Client() as client:
        assert client.get(f"{backend.url}/api/notes").status_code == 200  # the connection stays open
        assert backend.stop() == 0


def test_a_request_in_flight_is_answered_before_the_backend_exits(backend, migrated_database):
    body = b'{"text": "sent across a shutdown"}'
    head = "POST /api/notes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", backend.port)) as conn:
        conn.sendall(head.encode() + body[:10])
        backend.process.send_signal(signal.SIGTERM)
        # Half the body is in; the rest follows once the server has begun to shut down.
        backend.wait_for_log("shutting down")
        assert backend.alive()
        conn.sendall(body[10:])
        conn.settimeout(20)
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 201 "), answer
    assert b"connection: close" in answer.lower()
    assert backend.stop() == 0
    with psycopg.connect(migrated_database) as db:
        assert db.execute("SELECT text FROM notes").fetchall() == [("sent across a shutdown",)]
