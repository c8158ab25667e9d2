"""`./mvs railway-schema`: introspect an API, save its schema, re-check our operations on it."""

from __future__ import annotations

import copy
import json

from graphql import build_client_schema

from components.railway.schema import schema_path
from mvsctl.railway_schema import fetch_schema, operation_problems
from railway_emulator.server import DEFAULT_TOKEN, Emulator, EmulatorServer


def test_introspection_round_trips_the_published_schema(tmp_path, monkeypatch):
    monkeypatch.setenv("RAILWAY_API_TOKEN", DEFAULT_TOKEN)
    server = EmulatorServer(Emulator()).start()
    try:
        out = fetch_schema(tmp_path / "live.json", endpoint=server.url)
    finally:
        server.stop()
    fetched = json.loads(out.read_text())["data"]["__schema"]
    published = json.loads(schema_path().read_text())["data"]["__schema"]
    assert sorted(t["name"] for t in fetched["types"]) == sorted(t["name"] for t in published["types"])
    assert operation_problems(out) == []


def test_an_api_that_dropped_a_field_we_use_is_reported(tmp_path, monkeypatch):
    document = json.loads(schema_path().read_text())
    changed = copy.deepcopy(document)
    instance = next(t for t in changed["data"]["__schema"]["types"] if t["name"] == "ServiceInstance")
    instance["fields"] = [f for f in instance["fields"] if f["name"] != "healthcheckPath"]
    schema = build_client_schema(changed["data"])
    schema.type_map["Team"].fields["id"].deprecation_reason = None
    monkeypatch.setenv("RAILWAY_API_TOKEN", DEFAULT_TOKEN)
    server = EmulatorServer(Emulator(schema=schema)).start()
    try:
        out = fetch_schema(tmp_path / "live.json", endpoint=server.url)
    finally:
        server.stop()
    problems = operation_problems(out)
    assert [problem.split(":")[0] for problem in problems] == [
        "environmentServices.graphql",
        "environmentSnapshot.graphql",
        "serviceInstance.graphql",
    ], "every document that reads the field, and nothing else"
    missing = ".graphql: Cannot query field 'healthcheckPath' on type 'ServiceInstance'"
    assert all(missing in problem for problem in problems), problems
