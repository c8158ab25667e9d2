"""The frontend server: the page and its script, /health, and the same-origin proxy of /api to a
real backend, with a JSON 502 (not a crash) when the backend is down."""

from __future__ import annotations

import http.client
import signal

import httpx
import pytest

from mvsctl.loopback_s3 import free_port

from .nodeproc import FRONTEND


@pytest.fixture
def frontend(start_frontend, backend):
    return start_frontend(backend.url)


@pytest.fixture
def orphan_frontend(start_frontend):
    """A frontend whose backend URL points at a port where nothing listens."""
    return start_frontend(f"http://127.0.0.1:{free_port()}")


def test_the_page_is_served(frontend):
    response = httpx.get(f"{frontend.url}/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == (FRONTEND / "public" / "index.html").read_text()
    assert '<script src="/app.js"' in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_script_calls_the_api_on_the_same_origin(frontend):
    response = httpx.get(f"{frontend.url}/app.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "fetch('/api/notes'" in response.text
    assert httpx.get(f"{frontend.url}/style.css").headers["content-type"].startswith("text/css")


def test_health_answers_while_the_frontend_is_up(frontend):
    response = httpx.get(f"{frontend.url}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_notes_go_through_the_proxy_to_the_backend(frontend, backend):
    created = httpx.post(f"{frontend.url}/api/notes", json={"text": "via the frontend"})
    assert created.status_code == 201, created.text
    assert created.json()["text"] == "via the frontend"
    direct = httpx.get(f"{backend.url}/api/notes").json()
    proxied = httpx.get(f"{frontend.url}/api/notes", params={"limit": 1})
    assert proxied.status_code == 200
    assert proxied.headers["content-type"].startswith("application/json")
    assert proxied.json() == direct == {"notes": [created.json()]}


def test_the_backend_answer_passes_through_unchanged(frontend):
    bad = httpx.post(f"{frontend.url}/api/notes", json={"text": ""})
    assert bad.status_code == 400
    assert bad.json() == {"error": '"text" must not be empty'}
    wrong = httpx.delete(f"{frontend.url}/api/notes")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, POST"
    missing = httpx.get(f"{frontend.url}/api/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"error": "not found"}


def test_a_backend_that_is_down_is_a_json_502(orphan_frontend):
    for _ in range(3):
        response = httpx.get(f"{orphan_frontend.url}/api/notes")
        assert response.status_code == 502
        assert response.json() == {"error": "backend unavailable"}
    posted = httpx.post(f"{orphan_frontend.url}/api/notes", json={"text": "lost"})
    assert posted.status_code == 502
    assert orphan_frontend.alive()
    assert httpx.get(f"{orphan_frontend.url}/health").status_code == 200
    assert httpx.get(f"{orphan_frontend.url}/").status_code == 200


def test_a_backend_that_stops_is_a_502_then(start_frontend, start_backend, migrated_database):
    backend = start_backend(migrated_database)
    frontend = start_frontend(backend.url)
    with httpx.Client() as client:  # keeps the frontend's pooled connection to the backend warm
        assert client.get(f"{frontend.url}/api/notes").status_code == 200
        assert backend.stop() == 0
        response = client.get(f"{frontend.url}/api/notes")
    assert response.status_code == 502
    assert frontend.alive()


@pytest.mark.parametrize("path", ["/../src/server.js", "/%2e%2e/package.json", "/public/index.html", "/server.js"])
def test_nothing_outside_the_page_is_served(frontend, path):
    conn = http.client.HTTPConnection("127.0.0.1", frontend.port, timeout=10)
    conn.request("GET", path)  # sent as written: no client-side normalisation
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.status == 404
    assert "require(" not in body


def test_unknown_paths_and_methods_are_json_errors(frontend):
    assert httpx.get(f"{frontend.url}/nope").json() == {"error": "not found"}
    response = httpx.post(f"{frontend.url}/", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_frontend_exits_0_on_a_stop_signal(frontend, sig):
    with httpx.Client() as client:
        assert client.get(f"{frontend.url}/").status_code == 200  # a keep-alive connection stays open
        assert frontend.stop(sig) == 0
    assert [r["msg"] for r in frontend.log_records()][-2:] == ["shutting down", "stopped"]
