"""The Grafana dashboards (components/monitoring/dashboards/) and their provisioning (grafana.py).

Grafana itself cannot be had here (no Debian package of the server, and its Go module is AGPL,
which this project does not use), so nothing loads the dashboards as Grafana would. What is
checked instead:

- structure: each file is a dashboard model with a stable uid, a schemaVersion, unique panel ids
  and grid positions on Grafana's 24-column grid that do not overlap; every panel and every query
  names the provisioned data source by DATASOURCE_UID; the provisioning YAML points the data
  source and the dashboard provider at what `provisioning_files` writes, and where;
- every query is PromQL that a real Prometheus (Debian's 2.42) accepts: each is sent to
  /api/v1/query, which answers a parse error with HTTP 400;
- every metric a query reads is exported by some component: the names come from the running
  components themselves (dashboard_fixtures.py: the backend's and the frontend's /metrics,
  postgres_exporter on PostgreSQL 15, the Pushgateway after the backup runner pushed), plus what
  Prometheus adds to each scrape, taken from Prometheus as the names it holds that no target
  served (and checked to be `up` and `scrape_*` only);
- every query shows data on that running stack, so a wrong label or job is caught too.

Reading metric names out of an expression (`metric_names`): a lexer of PromQL's grammar, not a
regular expression over the text. Strings are skipped; `{...}` holds label matchers (a
`__name__="..."` matcher names a metric); `[...]` holds ranges and subquery steps; the parenthesised
lists after by/without/on/ignoring/group_left/group_right hold label names; an identifier
followed by `(` is a function or an aggregation (Prometheus rejects an unknown function with a
400, which the validity test would report), an aggregation may also be followed by by/without;
keywords (and, or, unless, atan2, offset, bool, inf, nan) are case-insensitive as in Prometheus.
Every other identifier is a metric name. A selector that names no metric (only matchers), or
names it by a regular expression, is refused: its metrics could not be checked.
"""

from __future__ import annotations

import ast
import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from components.monitoring.grafana import (
    DASHBOARD_SOURCES,
    DASHBOARDS_DIR,
    DATASOURCE_UID,
    PROVISIONING,
    dashboards,
    datasource,
    provisioning_files,
)

from . import dashboard_fixtures
from .conftest import wait_until
from .dashboard_fixtures import DashboardStack

# The fixtures of dashboard_fixtures.py (conftest.py is shared and left as it is), seen by pytest here.
dashboard_stack = dashboard_fixtures.dashboard_stack
frontend_modules = dashboard_fixtures.frontend_modules

EXPECTED = {"services.json", "postgres.json", "backups.json"}
DATASOURCE = {"type": "prometheus", "uid": DATASOURCE_UID}
GRID_COLUMNS = 24  # Grafana's grid is 24 columns wide
PANEL_TYPES = {"stat", "timeseries", "gauge", "bargauge", "table", "text"}
COMPACT_BUDGET = 8 * 1024  # our own bound per dashboard: on Railway each travels in a variable
PROMETHEUS_URL = "http://prometheus.example:9090"
DATA_DEADLINE = 30.0

# PromQL's words that are not metric names (Prometheus's lexer matches them case-insensitively).
AGGREGATIONS = {"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk"}
AGGREGATIONS |= {"count_values", "quantile", "limitk", "limit_ratio"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "atan2", "offset", "bool", "inf", "nan"} | GROUPING

TOKEN = re.compile(
    r"""(?P<space>\s+|\#[^\n]*)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<duration>(?:\d+(?:ms|[smhdwy]))+\b)
    |(?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    |(?P<ident>[a-zA-Z_][a-zA-Z0-9_:]*|:[a-zA-Z0-9_:]*)
    |(?P<punct>==|!=|<=|>=|=~|!~|[-+*/%^<>={}()\[\],@:])""",
    re.VERBOSE,
)


class PromQLNames(ValueError):
    """An expression whose metric names cannot be read (or that reads any metric)."""


def tokens(expr: str) -> list[tuple[str, str]]:
    out, at = [], 0
    while at < len(expr):
        match = TOKEN.match(expr, at)
        if match is None:
            raise PromQLNames(f"{expr!r}: cannot read {expr[at:]!r}")
        if match.lastgroup != "space":
            out.append((match.lastgroup, match.group()))
        at = match.end()
    return out


def closing(toks: list[tuple[str, str]], start: int, open_: str, close: str) -> int:
    """The index of the bracket that closes the one at `start`."""
    depth = 0
    for index in range(start, len(toks)):
        depth += (toks[index][1] == open_) - (toks[index][1] == close)
        if depth == 0:
            return index
    raise PromQLNames(f"unbalanced {open_}{close}")


def unquote(literal: str) -> str:
    return literal[1:-1] if literal.startswith("`") else ast.literal_eval(literal)


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` reads (see the module docstring)."""
    toks, names, index = tokens(expr), set(), 0
    while index < len(toks):
        kind, text = toks[index]
        following = toks[index + 1][1] if index + 1 < len(toks) else ""
        if kind == "ident":
            word = text.lower()
            if word in GROUPING and following == "(":
                index = closing(toks, index + 1, "(", ")")
            elif word in KEYWORDS or following == "(":
                pass  # a keyword, a function or an aggregation with its arguments
            elif word in AGGREGATIONS and following.lower() in ("by", "without"):
                pass
            else:
                names.add(text)
                if following == "{":  # the matchers of a named selector
                    end = closing(toks, index + 1, "{", "}")
                    if any(t == "__name__" for _, t in toks[index + 2 : end]):
                        raise PromQLNames(f"{expr!r}: {text} also has a __name__ matcher")
                    index = end
        elif text == "{":  # a selector of matchers only: it must name its metric
            end = closing(toks, index, "{", "}")
            matchers = toks[index + 1 : end]
            named = [i for i, (k, t) in enumerate(matchers) if k == "ident" and t == "__name__"]
            if len(named) != 1 or matchers[named[0] + 1][1] != "=":
                raise PromQLNames(f"{expr!r}: a selector that names no single metric reads any metric")
            names.add(unquote(matchers[named[0] + 2][1]))
            index = end
        elif text == "[":
            index = closing(toks, index, "[", "]")  # a range or a subquery's range and step
        index += 1
    return names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (job, le) (rate(h_bucket{job="a",le!="+Inf"}[5m]))', {"h_bucket"}),
        ('time() - max(last_ts{job="backup"}) > 2 * 3600', {"last_ts"}),
        ("a / on (instance) group_left (version) b offset 5m", {"a", "b"}),
        ("a * ignoring(x) group_right c", {"a", "c"}),
        ('{__name__="up", job="x"} == 0', {"up"}),
        ('label_replace(up, "dst", "$1", "src", "(.*)")', {"up"}),
        ("sum(rate(a[5m:1m] @ end())) by (job) unless b", {"a", "b"}),
        ('count_values("value", build_info) or vector(0)', {"build_info"}),
        ("SUM BY (job) (foo) > bool bar", {"foo", "bar"}),
        ("topk(5, foo) + quantile(0.5, bar) - -1e3 + 0x1f + Inf", {"foo", "bar"}),
        ("histogram_quantile(0.95, sum without (instance) (rate(x_bucket[1h])))", {"x_bucket"}),
        ("ns:rate5m and changes(start_seconds[1d])", {"ns:rate5m", "start_seconds"}),
        ('max(a{l="sum(b) by (c)"})', {"a"}),
    ],
)
def test_metric_names_are_read_by_promql_grammar(expr, names):
    assert metric_names(expr) == names


@pytest.mark.parametrize("expr", ['{job="x"}', '{__name__=~"mvs_.*"}', 'rate({job="x"}[5m])', 'up{__name__="up"}'])
def test_a_selector_that_reads_any_metric_is_refused(expr):
    with pytest.raises(PromQLNames):
        metric_names(expr)


# --- the dashboards' structure and provisioning --------------------------------------------------


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}: {self.expr}"


def models() -> dict[str, dict]:
    return {name: json.loads(text) for name, text in dashboards().items()}


def queries() -> Iterator[Query]:
    for name, model in models().items():
        for panel in model["panels"]:
            for target in panel.get("targets", []):
                yield Query(name, panel["title"], target["refId"], target["expr"])


def test_the_repository_has_the_three_dashboards_as_compact_json():
    found = dashboards()
    assert set(found) == EXPECTED == {path.name for path in DASHBOARD_SOURCES.glob("*.json")}
    for name, text in found.items():
        source = json.loads((DASHBOARD_SOURCES / name).read_text(encoding="utf-8"))
        assert json.loads(text) == source
        assert text == json.dumps(source, separators=(",", ":"), ensure_ascii=False)
        assert len(text.encode()) <= COMPACT_BUDGET, f"{name}: {len(text.encode())} bytes"
        # No Grafana template variables (Prometheus could not run the queries as written) and
        # nothing Railway would resolve as a reference (`${{...}}`) when the file is a variable.
        assert "$" not in text, name


def test_each_dashboard_is_a_model_grafana_provisions():
    uids, titles = set(), set()
    for name, model in models().items():
        for key in ("uid", "title", "schemaVersion", "panels", "time", "tags"):
            assert key in model, f"{name} has no {key}"
        assert re.fullmatch(r"[a-z0-9-]{1,40}", model["uid"]), f"{name}: uid {model['uid']!r}"
        assert isinstance(model["schemaVersion"], int) and model["schemaVersion"] >= 36
        assert "id" not in model, f"{name}: a provisioned dashboard carries no database id"
        assert model["panels"], name
        uids.add(model["uid"])
        titles.add(model["title"])
    assert len(uids) == len(titles) == len(EXPECTED), "uids and titles are unique"


def test_panels_have_unique_ids_and_non_overlapping_places_on_the_grid():
    for name, model in models().items():
        ids = [panel["id"] for panel in model["panels"]]
        assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids), f"{name}: {ids}"
        cells: dict[tuple[int, int], str] = {}
        for panel in model["panels"]:
            assert panel["type"] in PANEL_TYPES, f"{name}: {panel['title']}: {panel['type']}"
            pos = panel["gridPos"]
            assert set(pos) == {"x", "y", "w", "h"} and all(isinstance(v, int) for v in pos.values())
            assert pos["x"] >= 0 and pos["w"] >= 1 and pos["x"] + pos["w"] <= GRID_COLUMNS and pos["h"] >= 1, pos
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    taken = cells.setdefault((x, y), panel["title"])
                    assert taken == panel["title"], f"{name}: {panel['title']} overlaps {taken}"


def test_every_panel_and_query_names_the_provisioned_data_source_by_uid():
    for name, model in models().items():
        for panel in model["panels"]:
            assert panel["datasource"] == DATASOURCE, f"{name}: {panel['title']}"
            targets = panel["targets"]
            assert targets, f"{name}: {panel['title']} has no query"
            refs = [target["refId"] for target in targets]
            assert len(refs) == len(set(refs)), f"{name}: {panel['title']}: {refs}"
            for target in targets:
                assert target["datasource"] == DATASOURCE, f"{name}: {panel['title']} {target['refId']}"
                assert target["expr"].strip(), f"{name}: {panel['title']} {target['refId']}"


def test_provisioning_points_grafana_at_the_files_it_writes():
    files = provisioning_files(PROMETHEUS_URL)
    source_file = f"{PROVISIONING}/datasources/prometheus.yaml"
    provider_file = f"{PROVISIONING}/dashboards/mvs.yaml"
    assert set(files) == {source_file, provider_file} | {f"{DASHBOARDS_DIR}/{name}" for name in EXPECTED}
    assert all(posixpath.isabs(path) and posixpath.normpath(path) == path for path in files)

    assert files[source_file] == datasource(PROMETHEUS_URL)
    sources = yaml.safe_load(files[source_file])
    assert sources["apiVersion"] == 1
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["access"] == "proxy" and source["isDefault"] is True
    assert source["uid"] == DATASOURCE_UID and source["url"] == PROMETHEUS_URL

    providers = yaml.safe_load(files[provider_file])
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == DASHBOARDS_DIR
    assert posixpath.commonpath([DASHBOARDS_DIR, PROVISIONING]) != PROVISIONING, (
        "dashboards live outside the provisioning directory, which Grafana reads as YAML"
    )
    texts = dashboards()
    for path, content in files.items():
        if path.endswith(".json"):
            assert posixpath.dirname(path) == provider["options"]["path"]
            assert content == texts[posixpath.basename(path)]


# --- the queries on real Prometheus and real components ------------------------------------------


def test_prometheus_answers_a_parse_error_with_400(dashboard_stack: DashboardStack):
    """What the next test relies on: a query Prometheus cannot parse is refused, not run."""
    response = dashboard_stack.api("query", query="sum(rate(up[5m])")
    assert response.status_code == 400
    assert response.json()["errorType"] == "bad_data"
    assert dashboard_stack.api("query", query="no_such_function(up)").status_code == 400


def test_every_query_is_promql_prometheus_accepts(dashboard_stack: DashboardStack):
    refused = []
    for query in queries():
        response = dashboard_stack.api("query", query=query.expr)
        if response.status_code != 200 or response.json()["status"] != "success":
            refused.append(f"{query}\n  -> HTTP {response.status_code} {response.text}")
    assert not refused, "\n".join(refused)


def test_every_metric_a_query_reads_is_exported_by_a_component(dashboard_stack: DashboardStack):
    exported = dashboard_stack.exported()
    served = set().union(*exported.values())
    added = dashboard_stack.held() - served
    assert "up" in added and all(name == "up" or name.startswith("scrape_") for name in added), added
    assert {"http_requests_total", "process_start_time_seconds"} <= exported["frontend"] & exported["backend"]
    known = served | added
    unknown = []
    for query in queries():
        names = metric_names(query.expr)
        assert names, f"{query} reads no metric"
        unknown += [f"{query}\n  -> {name}" for name in sorted(names - known)]
    assert not unknown, "metrics no component exports:\n" + "\n".join(unknown)


def test_every_query_shows_data_on_the_running_stack(dashboard_stack: DashboardStack):
    for query in queries():
        wait_until(f"data for {query}", lambda q=query: dashboard_stack.query(q.expr), DATA_DEADLINE)


def test_the_service_panels_show_the_backend_and_the_frontend(dashboard_stack: DashboardStack):
    """One expression per panel covers every service: both now export the HTTP metrics."""
    services = json.loads(dashboards()["services.json"])
    for panel in services["panels"]:
        for target in panel["targets"]:

            def both(expr=target["expr"]) -> bool:
                jobs = {sample["metric"].get("job") for sample in dashboard_stack.query(expr)}
                return {"backend", "frontend"} <= jobs

            wait_until(f"backend and frontend in {panel['title']}", both, DATA_DEADLINE)
