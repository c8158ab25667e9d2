"""GET /health: 200 when `SELECT 1` answers, 503 with a short reason when it does not, and the
process stays up either way; neither the answer nor the logs carry the password or the URL."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx

from mvsctl.loopback_s3 import free_port
from tests.backups.pgserver import SUPERUSER_PASSWORD

from .relay import relay_to


def test_healthy_when_the_database_answers(backend):
    response = httpx.get(f"{backend.url}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_unavailable_when_nothing_listens_at_the_database_port(start_backend):
    url = f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{free_port()}/postgres"
    server = start_backend(url)
    for _ in range(3):
        response = httpx.get(f"{server.url}/health")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "database": "connection refused"}
        assert server.alive()
    notes = httpx.get(f"{server.url}/api/notes")
    assert notes.status_code == 503 and notes.json() == {"error": "database unavailable"}
    assert server.alive()
    seen = response.text + notes.text + server.log_text()
    assert SUPERUSER_PASSWORD not in seen
    assert url not in seen


def test_a_wrong_password_is_named_but_not_shown(start_backend, pg_server):
    wrong = "Wrong-Password-42"
    server = start_backend(pg_server.replace(SUPERUSER_PASSWORD, wrong))
    response = httpx.get(f"{server.url}/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "authentication failed"}
    seen = response.text + server.log_text()
    assert wrong not in seen and SUPERUSER_PASSWORD not in seen


def test_a_database_that_never_answers_is_a_timeout(start_backend):
    """A port that accepts connections and then says nothing (a hung server, a dropped route):
    /health gives up after its short timeout instead of hanging the probe."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        server = start_backend(f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/postgres")
        response = httpx.get(f"{server.url}/health", timeout=30)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "timeout"}
    assert server.alive()


def test_unavailable_without_database_url(start_backend):
    server = start_backend(None)
    response = httpx.get(f"{server.url}/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "not configured"}


def test_a_database_that_goes_away_and_comes_back(start_backend, migrated_database):
    """The pool's idle connections die with the database: the process must survive that, answer
    503 meanwhile, and be healthy again once the database is back, without a restart."""
    parts = urlsplit(migrated_database)
    with relay_to(parts.port) as relay:
        through_relay = parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{relay.port}")
        server = start_backend(through_relay.geturl())
        with httpx.Client() as client:
            assert client.get(f"{server.url}/health").status_code == 200
            assert client.get(f"{server.url}/api/notes").status_code == 200  # an idle pooled connection now

            relay.cut()
            down = client.get(f"{server.url}/health")
            assert down.status_code == 503, down.text
            assert down.json()["status"] == "unavailable"
            assert server.alive()

            relay.start()
            up = client.get(f"{server.url}/health")
            assert up.status_code == 200, up.text
            assert client.get(f"{server.url}/api/notes").status_code == 200
    assert server.alive()
    assert SUPERUSER_PASSWORD not in server.log_text()
