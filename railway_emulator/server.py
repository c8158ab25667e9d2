"""The emulator's HTTP side: GraphQL over HTTP at /graphql/v2, and an admin API at /_emulator/.

A GraphQL request goes: auth -> rate limit -> faults -> parse (400 GRAPHQL_PARSE_FAILED) ->
validate against Railway's schema (400 GRAPHQL_VALIDATION_FAILED) -> coerce variables (400
BAD_USER_INPUT) -> execute (200, with `errors[]` for execution and authorization failures).

Admin API (loopback only, no token):
    GET  /_emulator/state                   the whole model as JSON (deployments brought up to date first)
    POST /_emulator/reset                   empty the model; its settings (plan, clock, lifecycle) back to
                                            their defaults (the rate limit stays as configured)
    POST /_emulator/faults                  {"rules": [...], "seed": 0} (see faults.py)
    POST /_emulator/rate-limit              {"limit": N, "window_seconds": S}
    POST /_emulator/behaviour               {"service": NAME, "outcome": "SUCCESS"|"FAILED"|"CRASHED"}
                                            or {"service": NAME, "healthy_paths": ["/health", ...]}
                                            or {"service": NAME, "restart_outcome": "SUCCESS"|"CRASHED"}
    POST /_emulator/logs                    {"deploymentId": ID, "lines": ["text" | {"message", "severity",
                                            "attributes"}, ...]}: app output in a deployment's deploy log;
                                            {"service": NAME, "environmentId": ID} picks the service's latest
    POST /_emulator/tokens                  {"token": T, "kind": "account"|"project", "projectId", "environmentId"}
    POST /_emulator/dashboard               {"query": ..., "variables": ...}: a change made "in the dashboard",
                                            outside the request log and the rate limit
    POST /_emulator/plan                    {"plan": "FREE"|"TRIAL"|"HOBBY"|"PRO"|"ENTERPRISE"} (default HOBBY):
                                            how long removed deployments can be rolled back, and the
                                            hourly rate limit where the docs give one (plans.py);
                                            answers {"plan", "retention_hours", "requests_per_hour"}
    POST /_emulator/clock                   {"advance_hours": H} and/or {"advance_seconds": S} (not negative):
                                            move the emulator's clock ahead; answers {"now", "offset_seconds"}
    POST /_emulator/lifecycle               {"deploy_seconds": N}: deployments reach their end N seconds (of
                                            the emulator's clock) after they start; {"deploy_seconds": null}:
                                            back to one step per read, the default (lifecycle.py)
    POST /_emulator/http-traffic            {"service_id": ID, "environment_id": ID, "status": 503, "count": N
                                            (default 1), "duration_ms": MS (default 0), "method": "GET", "path":
                                            "/", "at": ISO 8601 or epoch seconds (default now, the emulator's
                                            clock)}: requests Railway's edge saw, answered by
                                            httpMetricsGroupedByStatus and httpDurationMetrics (http_metrics.py);
                                            answers {"recorded": N, "at": ISO}

Admin errors (a payload the endpoint cannot use) are 400 {"error": ...}.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, execute, parse, validate
from graphql.error import GraphQLSyntaxError
from graphql.execution.values import get_variable_values

from components.railway.schema import load_schema

from . import http_metrics, logs
from .faults import Faults
from .lifecycle import settle
from .plans import plan_named
from .ratelimit import RateLimiter
from .requestlog import RequestLog, redact, redact_maps
from .resolvers import NOT_AUTHORIZED, Caller, EmulatorError, Root
from .store import Store, clock_ns, iso_ms, now, parse_iso_ns, settings

GRAPHQL_PATH = "/graphql/v2"
DEFAULT_TOKEN = "emulator-account-token"


def error_body(message: str, code: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "errors": [{"message": message, "extensions": {"code": code, "traceId": uuid.uuid4().hex, **(extra or {})}}]
    }


class Emulator:
    """Everything but the sockets: testable by calling `graphql_request` directly."""

    def __init__(
        self,
        schema: GraphQLSchema | None = None,
        state_path: Path | None = None,
        log_path: Path | None = None,
        account_tokens: tuple[str, ...] = (DEFAULT_TOKEN,),
    ):
        self.schema = schema or load_schema()
        self.store = Store(state_path)
        self.log = RequestLog(log_path)
        self.faults = Faults()
        self.rate_limiter = RateLimiter()
        self.tokens: dict[str, Caller] = {token: Caller("account") for token in account_tokens}

    # ---- GraphQL ----------------------------------------------------------------------

    def caller_for(self, headers: dict[str, str]) -> Caller | None:
        authorization = headers.get("authorization", "")
        project_token = headers.get("project-access-token")
        if project_token:
            caller = self.tokens.get(project_token)
            return caller if caller is not None and caller.kind == "project" else None
        if authorization.lower().startswith("bearer "):
            caller = self.tokens.get(authorization[7:].strip())
            return caller if caller is not None and caller.kind == "account" else None
        return None

    def graphql_request(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes, float]:
        """Answer one request: (status, headers, body, seconds to hold the connection first)."""
        started = time.monotonic()
        caller = self.caller_for(headers)
        rate_key = headers.get("project-access-token") or headers.get("authorization") or "anonymous"
        allowed, response_headers = self.rate_limiter.take(rate_key)
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError:
            request = {}
        if not isinstance(request, dict):
            request = {}  # answered below as a request without a query (400)
        query, variables = request.get("query"), request.get("variables") or {}
        operation_name = request.get("operationName")
        entry: dict[str, Any] = {"operation": operation_name, "variables": redact(variables), "fault": None}
        if headers.get("x-mvs-resource"):
            entry["resource"] = headers["x-mvs-resource"]  # whose request it is (a client's own label)

        def finish(status: int, payload: dict[str, Any] | None, hold: float = 0.0) -> tuple:
            entry["status"] = status
            entry["ms"] = round((time.monotonic() - started) * 1000 + hold * 1000, 1)
            if payload and payload.get("errors"):
                entry["errors"] = [e.get("extensions", {}).get("code") for e in payload["errors"]]
            self.log.write(entry)
            data = json.dumps(payload).encode() if payload is not None else b""
            return status, {**response_headers, "Content-Type": "application/json"}, data, hold

        if not allowed:
            entry["fault"] = "rate_limited"
            return finish(429, error_body("Rate limit exceeded", "RATE_LIMITED"))

        document = None
        if isinstance(query, str):
            try:
                document = parse(query)
                definitions = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
                names = [d.name.value for d in definitions if d.name]
                entry["operation"] = operation_name or (names[0] if len(names) == 1 else None)
                kinds = {d.operation.value for d in definitions if d.name is None or d.name.value == entry["operation"]}
                entry["kind"] = kinds.pop() if len(kinds) == 1 else None
                entry["variables"] = redact_maps(entry["variables"], document)
            except GraphQLSyntaxError:
                document = None

        hold = 0.0
        fired = self.faults.pick(entry["operation"])
        on_the_way_in = sum(r.latency_ms for r in fired if r.kind == "latency" and r.phase == "request")
        if on_the_way_in:
            time.sleep(on_the_way_in / 1000)  # the request reaches the model late (a slow network in)
        for rule in fired:
            if rule.kind == "latency":
                if rule.phase == "response":
                    hold += rule.latency_ms / 1000
            elif rule.kind == "error":
                entry["fault"] = "error"
                return finish(rule.status, error_body("Upstream unavailable", "INTERNAL_SERVER_ERROR"), hold)
            elif rule.kind == "rate_limit":
                entry["fault"] = "rate_limit"
                response_headers["Retry-After"] = str(rule.retry_after)
                return finish(429, error_body("Rate limit exceeded", "RATE_LIMITED"), hold)
            elif rule.kind == "timeout":
                entry["fault"] = "timeout"
                return finish(504, None, hold + rule.seconds)
            elif rule.kind == "fail_after_commit":
                entry["fault"] = "fail_after_commit"
                status, payload = self._run(caller, query, document, variables, operation_name)
                entry["committed_status"] = status
                return finish(rule.status, error_body("Upstream connection reset", "INTERNAL_SERVER_ERROR"), hold)

        status, payload = self._run(caller, query, document, variables, operation_name)
        return finish(status, payload, hold)

    def _run(
        self, caller: Caller | None, query: Any, document: Any, variables: dict[str, Any], operation_name: str | None
    ) -> tuple[int, dict[str, Any]]:
        if not isinstance(query, str) or not query.strip():
            return 400, error_body("GraphQL operations must contain a non-empty `query`", "BAD_REQUEST")
        if document is None:
            try:
                parse(query)
            except GraphQLSyntaxError as error:
                return 400, error_body(error.message, "GRAPHQL_PARSE_FAILED")
        problems = validate(self.schema, document)
        if problems:
            return 400, {"errors": [self._format(p, "GRAPHQL_VALIDATION_FAILED") for p in problems]}
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        operation = next((o for o in operations if o.name and o.name.value == operation_name), operations[0])
        coerced = get_variable_values(self.schema, operation.variable_definitions or (), variables)
        if isinstance(coerced, list):
            return 400, {"errors": [self._format(p, "BAD_USER_INPUT") for p in coerced]}
        if caller is None:
            # Railway answers an unauthorized request with HTTP 200 and "Not Authorized"; its
            # documented codes are only the four GraphQL ones, so this carries the generic one.
            return 200, {"data": None, **error_body(NOT_AUTHORIZED, "INTERNAL_SERVER_ERROR")}
        result = execute(
            self.schema,
            document,
            root_value=Root(self.store, caller),
            variable_values=variables,
            operation_name=operation_name,
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [self._format(e, self._code(e)) for e in result.errors]
        return 200, payload

    @staticmethod
    def _code(error: GraphQLError) -> str:
        original = error.original_error
        return original.code if isinstance(original, EmulatorError) else "INTERNAL_SERVER_ERROR"

    @staticmethod
    def _format(error: GraphQLError, code: str) -> dict[str, Any]:
        formatted = error.formatted
        formatted["extensions"] = {"code": code, "traceId": uuid.uuid4().hex}
        return formatted

    # ---- admin ------------------------------------------------------------------------

    def admin(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        data = json.loads(body or b"{}") if method == "POST" else {}
        if (method, path) == ("GET", "/_emulator/state"):
            with self.store.lock:
                if settle(self.store.state):
                    self.store.save()
                return 200, self.store.snapshot()
        if (method, path) == ("POST", "/_emulator/reset"):
            self.store.reset()
            return 200, {"ok": True}
        if (method, path) == ("POST", "/_emulator/faults"):
            try:
                self.faults.configure(data.get("rules", []), int(data.get("seed", 0)))
            except (TypeError, ValueError) as refused:
                return 400, {"error": str(refused)}
            return 200, {"ok": True}
        if (method, path) == ("POST", "/_emulator/rate-limit"):
            self.rate_limiter.configure(int(data["limit"]), float(data["window_seconds"]))
            return 200, {"ok": True}
        if (method, path) == ("POST", "/_emulator/behaviour"):
            with self.store.lock:
                behaviour = {k: data[k] for k in ("outcome", "healthy_paths", "restart_outcome") if k in data}
                self.store.state["behaviours"][data["service"]] = behaviour
                self.store.save()
            return 200, {"ok": True}
        if (method, path) == ("POST", "/_emulator/logs"):
            return self._append_logs(data)
        if (method, path) == ("POST", "/_emulator/tokens"):
            self.tokens[data["token"]] = Caller(
                data.get("kind", "account"), data.get("projectId"), data.get("environmentId")
            )
            return 200, {"ok": True}
        if (method, path) == ("POST", "/_emulator/plan"):
            return self._set_plan(data)
        if (method, path) == ("POST", "/_emulator/clock"):
            return self._advance_clock(data)
        if (method, path) == ("POST", "/_emulator/lifecycle"):
            return self._set_lifecycle(data)
        if (method, path) == ("POST", "/_emulator/http-traffic"):
            return self._record_traffic(data)
        if (method, path) == ("POST", "/_emulator/dashboard"):
            document = parse(data["query"])
            problems = validate(self.schema, document)
            if problems:
                return 400, {"errors": [p.message for p in problems]}
            result = execute(
                self.schema,
                document,
                root_value=Root(self.store, Caller("dashboard")),
                variable_values=data.get("variables"),
            )
            return 200, {"data": result.data, "errors": [e.message for e in result.errors or []]}
        return 404, {"error": f"no admin endpoint {method} {path}"}

    def _set_plan(self, data: dict[str, Any]) -> tuple[int, Any]:
        try:
            plan = plan_named(data.get("plan"))
        except ValueError as error:
            return 400, {"error": str(error)}
        with self.store.lock:
            settings(self.store.state)["plan"] = plan.name
            self.store.save()
        if plan.requests_per_hour is not None:
            self.rate_limiter.configure(plan.requests_per_hour, 3600.0)
        return 200, {
            "plan": plan.name,
            "retention_hours": plan.retention_hours,
            "requests_per_hour": plan.requests_per_hour,
        }

    def _advance_clock(self, data: dict[str, Any]) -> tuple[int, Any]:
        try:
            seconds = float(data.get("advance_hours") or 0) * 3600 + float(data.get("advance_seconds") or 0)
        except (TypeError, ValueError):
            return 400, {"error": "advance_hours and advance_seconds must be numbers"}
        if seconds < 0:
            return 400, {"error": "the clock only moves forward"}
        with self.store.lock:
            current = settings(self.store.state)
            current["clock_offset_seconds"] = float(current["clock_offset_seconds"]) + seconds
            settle(self.store.state)
            self.store.save()
            return 200, {"now": now(self.store.state), "offset_seconds": current["clock_offset_seconds"]}

    def _set_lifecycle(self, data: dict[str, Any]) -> tuple[int, Any]:
        seconds = data.get("deploy_seconds")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0):
            return 400, {"error": "deploy_seconds must be a number of seconds (not negative) or null"}
        with self.store.lock:
            settings(self.store.state)["deploy_seconds"] = seconds
            self.store.save()
        return 200, {"deploy_seconds": seconds}

    def _record_traffic(self, data: dict[str, Any]) -> tuple[int, Any]:
        """Requests Railway's edge proxy saw for a service, as if they had been served."""
        with self.store.lock:
            state = self.store.state
            at = data.get("at")
            try:
                if at is None:
                    seconds = clock_ns(state) / 1e9
                elif isinstance(at, str):
                    seconds = parse_iso_ns(at) / 1e9
                elif isinstance(at, (int, float)) and not isinstance(at, bool):
                    seconds = float(at)
                else:
                    raise http_metrics.TrafficError(f"at must be an ISO 8601 date-time or epoch seconds, not {at!r}")
                record = http_metrics.traffic_record(data, seconds)
            except ValueError as error:  # TrafficError, or a date-time fromisoformat cannot read
                return 400, {"error": str(error)}
            if record["serviceId"] not in state["services"]:
                return 404, {"error": f"no such service {record['serviceId']}"}
            if record["environmentId"] not in state["environments"]:
                return 404, {"error": f"no such environment {record['environmentId']}"}
            state.setdefault("http_traffic", []).append(record)
            self.store.save()
        return 200, {"recorded": record["count"], "at": iso_ms(round(seconds * 1e9))}

    def _append_logs(self, data: dict[str, Any]) -> tuple[int, Any]:
        """App output, written to a deployment's deploy log as if the app printed it."""
        with self.store.lock:
            deployments = self.store.state["deployments"]
            if "deploymentId" in data:
                deployment = deployments.get(data["deploymentId"])
            else:
                services = {s["id"] for s in self.store.state["services"].values() if s["name"] == data.get("service")}
                candidates = [
                    d
                    for d in deployments.values()
                    if d["serviceId"] in services and data.get("environmentId") in (None, d["environmentId"])
                ]
                if len({d["environmentId"] for d in candidates}) > 1:
                    return 400, {"error": "the service is in several environments: give environmentId"}
                deployment = max(candidates, key=lambda d: d["createdAt"], default=None)
            if deployment is None:
                return 404, {"error": "no such deployment"}
            written = []
            for line in data.get("lines", []):
                line = {"message": line} if isinstance(line, str) else line
                written.append(
                    logs.append(
                        self.store.state,
                        deployment,
                        "deploy",
                        line["message"],
                        line.get("severity", "info"),
                        line.get("attributes"),
                    )["timestamp"]
                )
            self.store.save()
        return 200, {"deploymentId": deployment["id"], "timestamps": written}


def make_handler(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def log_message(self, format: str, *args: Any) -> None:
            return

        def date_time_string(self, timestamp: float | None = None) -> str:
            """Every answer's `Date`, from the emulator's clock (which the admin API moves ahead), as
            Railway's answers carry Railway's: clients bound what a lost answer made by it."""
            return formatdate(clock_ns(emulator.store.state) / 1e9, usegmt=True)

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up first (its timeout, during an injected timeout's hold): the
                # request is logged already; like a real server, nothing more to say.
                self.close_connection = True

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            if self.path.startswith("/_emulator/"):
                status, payload = emulator.admin("GET", self.path, b"")
                self._send(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())
            else:
                self._send(404, {}, b"")

        def do_POST(self) -> None:
            body = self._body()
            path = self.path.split("?", 1)[0]
            if path.startswith("/_emulator/"):
                status, payload = emulator.admin("POST", path, body)
                self._send(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())
                return
            if path != GRAPHQL_PATH:
                self._send(404, {}, b"")
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, response_headers, payload, hold = emulator.graphql_request(headers, body)
            if hold:
                time.sleep(hold)
            self._send(status, response_headers, payload)

    return Handler


class EmulatorServer:
    """The emulator on a loopback port, in a background thread."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0):
        self.emulator = emulator
        self.httpd = ThreadingHTTPServer((host, port), make_handler(emulator))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{GRAPHQL_PATH}"

    @property
    def admin_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/_emulator"

    def start(self) -> EmulatorServer:
        self.thread.start()
        return self

    def serve(self, emulator: Emulator) -> None:
        """Answer from now on with `emulator`: a fresh model on the same port, so a test suite can
        share one server and still give each test an emulator with nothing left from the last."""
        self.emulator = emulator
        self.httpd.RequestHandlerClass = make_handler(emulator)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
