"""The notes API end to end: HTTP in, a row in PostgreSQL, HTTP out; bad input is a 400 with a
JSON error and stores nothing."""

from __future__ import annotations

import json

import httpx
import psycopg
import pytest

MAX_TEXT = 1000


def stored_texts(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT text FROM notes ORDER BY id")]


def test_a_posted_note_is_stored_and_listed_newest_first(backend, migrated_database):
    first = httpx.post(f"{backend.url}/api/notes", json={"text": "first note"})
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["text"] == "first note"
    assert isinstance(created["id"], int)
    second = httpx.post(f"{backend.url}/api/notes", json={"text": "second note"})
    assert second.status_code == 201, second.text

    assert stored_texts(migrated_database) == ["first note", "second note"]
    listed = httpx.get(f"{backend.url}/api/notes")
    assert listed.status_code == 200
    assert listed.headers["content-type"].startswith("application/json")
    notes = listed.json()["notes"]
    assert [n["text"] for n in notes] == ["second note", "first note"]
    assert notes[1] == created


def test_limit_returns_the_newest(backend):
    for i in range(5):
        assert httpx.post(f"{backend.url}/api/notes", json={"text": f"note {i}"}).status_code == 201
    notes = httpx.get(f"{backend.url}/api/notes", params={"limit": 2}).json()["notes"]
    assert [n["text"] for n in notes] == ["note 4", "note 3"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", ""])
def test_a_bad_limit_is_a_400(backend, limit):
    response = httpx.get(f"{backend.url}/api/notes", params={"limit": limit})
    assert response.status_code == 400
    assert "limit" in response.json()["error"]


def test_text_is_trimmed(backend, migrated_database):
    response = httpx.post(f"{backend.url}/api/notes", json={"text": "  padded \n"})
    assert response.status_code == 201
    assert stored_texts(migrated_database) == ["padded"]


def test_the_longest_text_is_counted_in_characters(backend, migrated_database):
    """1000 characters outside the BMP are 2000 UTF-16 units in JavaScript: still allowed, and the
    database's own check (char_length) agrees."""
    text = "\N{GRINNING FACE}" * MAX_TEXT
    response = httpx.post(f"{backend.url}/api/notes", json={"text": text})
    assert response.status_code == 201, response.text
    assert stored_texts(migrated_database) == [text]


BAD_BODIES = {
    "not json": b"text=hello",
    "truncated json": b'{"text": "hel',
    "empty body": b"",
    "a list": b'["hello"]',
    "a string": b'"hello"',
    "null": b"null",
    "no text": b'{"note": "hello"}',
    "text is a number": b'{"text": 42}',
    "text is null": b'{"text": null}',
    "empty text": b'{"text": ""}',
    "blank text": b'{"text": "  \\n\\t "}',
    "text too long": json.dumps({"text": "x" * (MAX_TEXT + 1)}).encode(),
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_bad_body_is_a_400_and_stores_nothing(backend, migrated_database, body):
    response = httpx.post(f"{backend.url}/api/notes", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error, str) and error
    assert stored_texts(migrated_database) == []


def test_an_oversized_body_is_refused_and_stores_nothing(backend, migrated_database):
    body = json.dumps({"text": "x" * 100_000}).encode()
    response = httpx.post(f"{backend.url}/api/notes", content=body)
    assert response.status_code == 413
    assert "error" in response.json()
    assert stored_texts(migrated_database) == []
    assert httpx.get(f"{backend.url}/health").status_code == 200


def test_an_unknown_path_is_a_json_404(backend):
    response = httpx.get(f"{backend.url}/api/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


def test_a_wrong_method_is_a_405_that_names_the_allowed_ones(backend):
    response = httpx.delete(f"{backend.url}/api/notes")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert "error" in response.json()


def test_without_the_migrations_the_api_fails_cleanly(start_backend, database):
    server = start_backend(database)
    response = httpx.get(f"{server.url}/api/notes")
    assert response.status_code == 503
    assert response.json() == {"error": "database unavailable"}
    assert server.alive()
    assert any(r.get("reason") == "schema missing (run migrations)" for r in server.log_records())


def test_every_request_is_one_json_log_line_without_secrets(backend, migrated_database):
    httpx.post(f"{backend.url}/api/notes", json={"text": "logged"})
    httpx.get(f"{backend.url}/no/such/place?token=abc123")
    httpx.get(f"{backend.url}/health")
    requests = backend.request_records(3)
    summary = [(r["method"], r["route"], r["status"]) for r in requests]
    assert summary == [("POST", "/api/notes", 201), ("GET", "unmatched", 404), ("GET", "/health", 200)]
    assert all(isinstance(r["duration_ms"], int | float) for r in requests)
    text = backend.log_text()
    password = migrated_database.split(":")[2].split("@")[0]
    assert password not in text
    assert "abc123" not in text  # query strings are not logged
