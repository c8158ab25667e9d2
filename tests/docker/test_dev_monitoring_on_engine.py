"""The dev stack's monitoring on a real Docker engine: the dev declaration with monitoring enabled,
brought up by the real `./mvs up` through the project's own Docker providers, runs Prometheus,
Alertmanager, the Pushgateway, postgres_exporter and Grafana on the stack's private network, and
they work together:
- every monitoring container turns healthy, published only where declared, and a preview right
  after `up` (uploaded files and secret configuration included) shows no change;
- Prometheus scrapes exactly the jobs the rules expect (`scrape_jobs`), each at its network alias,
  and the backend, postgres-exporter and pushgateway targets are up (the frontend's is not asserted
  either way: whether it serves /metrics is the app's business);
- Prometheus loaded exactly the generated rules, and Alertmanager the generated configuration
  (uploaded as a secret, readable by its user only);
- a backup run inside the network pushes its result to the Pushgateway, and Prometheus has it;
- a stopped database makes `pg_up` 0 and PostgresDown fire, and Alertmanager delivers it to the
  declared webhook (a recorder on the network); no container logs a secret on the way.

The monitoring images are stand-ins built from Debian's packages (tests/docker/standins.py);
Grafana's answers its health route only (it has no Debian package), so Grafana itself is checked
under mocks (tests/components/test_local_monitoring.py) and in tests/monitoring.

Time is driven by the declaration's own short settings, as a developer may set them:
`scrape_interval_seconds` 5 (its minimum) and `for_minutes.postgres_down` 0. Alertmanager keeps
its generated timings (30 s before a new group's first notification). Waits poll with deadlines;
nothing asserts on how long anything took.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
import httpx
import pytest
import yaml
from docker.models.containers import Container

from components.monitoring import BACKUP_JOB, POSTGRES_EXPORTER_JOB, PUSHGATEWAY_JOB, alerts, scrape_jobs
from components.spec import EnvironmentSpec, parse_environment

from .dev_world import SECRETS as DEV_SECRETS
from .dev_world import DevWorld, stable_free_port
from .standins import build_monitoring

STACK = "dev"
FILE = f"stacks/Pulumi.{STACK}.yaml"
MONITORING = ["postgres-exporter", "pushgateway", "alertmanager", "prometheus", "grafana"]
RECORDER = "alert-recorder"
RECORDER_PORT = 8080
DEADLINE = 90.0  # seconds for any one condition to show (scrapes every 5 s, Alertmanager waits 30 s)
HOOK_PATH = f"/hook/{secrets.token_hex(8)}"
SECRETS = {
    "grafanaAdminPassword": "grafana-Never-Shown-7",
    "alertWebhookUrl": f"http://{RECORDER}:{RECORDER_PORT}{HOOK_PATH}",
}

# The webhook receiver: prints each delivery to the expected path as one JSON line.
RECORDER_SCRIPT = """
import http.server, json, os
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == os.environ["HOOK_PATH"]:
            print(json.dumps(json.loads(body)), flush=True)
        else:
            print(json.dumps({"wrong_path": True}), flush=True)
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("", int(os.environ["PORT"])), Hook).serve_forever()
"""


def with_monitoring(raw: dict) -> dict:
    """The dev declaration with monitoring enabled, on free host ports, and a webhook receiver."""
    raw["monitoring"] = {
        "enabled": True,
        "scrape_interval_seconds": 5,
        "prometheus_host_port": stable_free_port(),
        "grafana_host_port": stable_free_port(),
        "alertmanager_host_port": stable_free_port(),
        "receivers": {"webhook_url_secret": "alertWebhookUrl"},
        "thresholds": {"for_minutes": {"postgres_down": 0}},
    }
    return raw


def wait_until(what: str, probe: Callable[[], Any], seconds: float = DEADLINE, show: Callable[[], Any] | None = None):
    """`probe`'s first truthy answer; fails saying what never came (and what was seen last)."""
    end = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {seconds} s; last seen: {show() if show else found!r}")
        time.sleep(1)


@dataclass
class Monitored:
    world: DevWorld
    spec: EnvironmentSpec
    recorder: Container

    @property
    def containers(self) -> dict[str, Container]:
        return self.world.containers()

    @property
    def prometheus(self) -> str:
        return f"http://127.0.0.1:{self.spec.monitoring.prometheus_host_port}"

    @property
    def alertmanager(self) -> str:
        return f"http://127.0.0.1:{self.spec.monitoring.alertmanager_host_port}"

    def api(self, base: str, path: str, **params: str) -> Any:
        response = httpx.get(f"{base}{path}", params=params, timeout=10)
        response.raise_for_status()
        body = response.json()
        return body["data"] if isinstance(body, dict) and "data" in body else body

    def query(self, promql: str) -> list[dict]:
        return self.api(self.prometheus, "/api/v1/query", query=promql)["result"]

    def targets(self) -> list[dict]:
        return self.api(self.prometheus, "/api/v1/targets", state="active")["activeTargets"]

    def deliveries(self) -> list[dict]:
        lines = self.recorder.logs().decode(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


def start_recorder(client: docker.DockerClient, image: str, network: str) -> Container:
    """The webhook Alertmanager delivers to, on the stack's network under the alias the secret names."""
    for old in client.containers.list(all=True, filters={"name": f"mvs-test-{RECORDER}"}):
        old.remove(force=True)
    recorder = client.containers.create(
        image,
        command=["python3", "-c", RECORDER_SCRIPT],
        name=f"mvs-test-{RECORDER}",
        environment={"HOOK_PATH": HOOK_PATH, "PORT": str(RECORDER_PORT)},
        network=network,
        networking_config={network: client.api.create_endpoint_config(aliases=[RECORDER])},
        labels={"com.mvs.test": "monitoring"},
    )
    recorder.start()
    return recorder


@pytest.fixture(scope="module")
def monitored(engine, docker_host, ci_bases, official_names, tmp_path_factory):
    world = DevWorld(tmp_path_factory.mktemp("monitored"), docker_host, engine)
    world.start_clean()
    world.declare(with_monitoring(world.declaration()))
    spec = parse_environment(world.declaration(), FILE)
    build_monitoring(engine, ci_bases, spec.monitoring, tmp_path_factory.mktemp("standins"))
    for name, value in SECRETS.items():
        world.cli.ok("config", "set", "--secret", "--stack", STACK, f"mvs:{name}", input_text=value)
    up = world.mvs("up", STACK, "--yes")
    assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
    recorder = start_recorder(engine, ci_bases["python"], f"mvs-{STACK}")
    yield Monitored(world, spec, recorder)
    recorder.remove(force=True)
    world.finish()


def test_every_monitoring_container_runs_healthy_published_only_where_declared(monitored):
    world = monitored.world
    health = world.health()
    assert {part: health.get(part) for part in MONITORING} == dict.fromkeys(MONITORING, "healthy")
    containers = monitored.containers
    for part in MONITORING:
        assert containers[part].attrs["NetworkSettings"]["Networks"][f"mvs-{STACK}"]["Aliases"][:1] == [part]
    published = {p for p in MONITORING if containers[p].attrs["HostConfig"]["PortBindings"]}
    assert published == {"prometheus", "alertmanager", "grafana"}
    done = world.mvs("preview", STACK, "--expect-no-changes")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_prometheus_scrapes_exactly_the_declared_jobs_at_their_aliases(monitored):
    jobs = scrape_jobs(monitored.spec)
    must_be_up = {"backend", POSTGRES_EXPORTER_JOB, PUSHGATEWAY_JOB}
    assert must_be_up <= set(jobs)

    def up() -> bool:
        health = {t["labels"]["job"]: t["health"] for t in monitored.targets()}
        return all(health.get(job) == "up" for job in must_be_up)

    wait_until("backend, postgres-exporter and pushgateway up", up, show=monitored.targets)
    targets = monitored.targets()
    assert sorted(t["labels"]["job"] for t in targets) == sorted(jobs)  # each job once, nothing else
    for target in targets:
        job = target["labels"]["job"]
        assert target["scrapeUrl"].startswith(f"http://{job}:"), target["scrapeUrl"]


def test_prometheus_loaded_exactly_the_generated_rules(monitored):
    groups = monitored.api(monitored.prometheus, "/api/v1/rules", type="alert")["groups"]
    loaded = {
        group["name"]: [
            (rule["name"], rule["duration"], rule["labels"], rule["annotations"]) for rule in group["rules"]
        ]
        for group in groups
    }
    expected: dict[str, list] = {}
    for rule in alerts(STACK, monitored.spec):
        expected.setdefault(rule.group, []).append((rule.alert, rule.for_minutes * 60, rule.labels, rule.annotations))
    assert loaded == expected  # every group (Prometheus lists them by name), each rule in file order
    assert {group["file"] for group in groups} == {f"/etc/prometheus/{STACK}.rules.yml"}


def test_alertmanager_runs_the_generated_configuration_readable_by_its_user_only(monitored):
    status = monitored.api(monitored.alertmanager, "/api/v2/status")
    config = yaml.safe_load(status["config"]["original"])
    assert config["route"]["receiver"] == STACK
    assert config["route"]["group_by"] == ["alertname", "stack"]
    assert [receiver["name"] for receiver in config["receivers"]] == [STACK]
    assert len(config["receivers"][0]["webhook_configs"]) == 1
    alertmanager = monitored.containers["alertmanager"]
    code, output = alertmanager.exec_run(["stat", "-c", "%a %u", "/etc/alertmanager/alertmanager.yml"])
    assert (code, output.decode().split()) == (0, ["600", "65534"])
    known = wait_until(
        "Prometheus knows its Alertmanager",
        lambda: monitored.api(monitored.prometheus, "/api/v1/alertmanagers")["activeAlertmanagers"],
    )
    assert [a["url"] for a in known] == ["http://alertmanager:9093/api/v2/alerts"]


def test_a_backup_run_inside_the_network_is_pushed_and_scraped(monitored):
    runner = monitored.containers["backup"]
    code, output = runner.exec_run(["python", "-m", "backup_runner", "run"])
    text = output.decode(errors="replace")
    assert code == 0 and "warning" not in text, text
    success = f'mvs_backup_last_success_timestamp_seconds{{job="{BACKUP_JOB}"}}'
    (sample,) = wait_until(f"{success} in Prometheus", lambda: monitored.query(success))
    assert sample["metric"]["stack"] == STACK, "the runner's BACKUP_STACK label, kept by honor_labels"
    assert abs(float(sample["value"][1]) - time.time()) < 600


def test_ps_shows_the_monitoring_containers_with_their_urls(monitored):
    done = monitored.world.mvs("ps", STACK)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert sorted(rows) == sorted([*monitored.spec.services, "database", "backup", *MONITORING])
    for part in MONITORING:
        assert "running" in rows[part] and "healthy" in rows[part], rows.get(part)
    assert f"http://localhost:{monitored.spec.monitoring.alertmanager_host_port}" in rows["alertmanager"]
    assert f"http://localhost:{monitored.spec.monitoring.prometheus_host_port}" in rows["prometheus"]
    assert rows["pushgateway"].split()[-1] == "-" and rows["postgres-exporter"].split()[-1] == "-"


def test_up_checks_the_monitoring_ports_too(monitored):
    world = monitored.world
    before = world.ids()
    raw = world.declaration()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        raw["monitoring"]["alertmanager_host_port"] = taken = holder.getsockname()[1]
        world.declare(raw)
        try:
            refused = world.mvs("up", STACK, "--yes")
        finally:
            raw["monitoring"]["alertmanager_host_port"] = monitored.spec.monitoring.alertmanager_host_port
            world.declare(raw)
    assert refused.returncode != 0 and f"port {taken}" in refused.stderr
    assert "mvs:environment.monitoring.alertmanager_host_port" in refused.stderr
    assert world.ids() == before


def test_a_stopped_database_is_postgres_down_delivered_to_the_webhook(engine, monitored):
    """Last in the module: it stops the database (and starts it again)."""
    database = monitored.containers["database"]
    pg_up = f'pg_up{{job="{POSTGRES_EXPORTER_JOB}"}}'
    wait_until("pg_up 1 before", lambda: monitored.query(f"{pg_up} == 1"))
    database.stop(timeout=10)
    try:
        wait_until("pg_up 0", lambda: monitored.query(f"{pg_up} == 0"), show=lambda: monitored.query(pg_up))

        def postgres_down() -> list[dict]:
            found = monitored.api(monitored.prometheus, "/api/v1/alerts")["alerts"]
            return [a for a in found if a["labels"]["alertname"] == "PostgresDown"]

        (alert,) = wait_until("PostgresDown pending or firing", postgres_down)
        assert alert["state"] in ("pending", "firing")
        assert alert["labels"]["stack"] == STACK and alert["labels"]["service"] == "database"

        def delivered() -> list[dict]:
            return [
                a
                for d in monitored.deliveries()
                for a in d.get("alerts", [])
                if a["labels"]["alertname"] == "PostgresDown" and a["status"] == "firing"
            ]

        firing = wait_until("PostgresDown at the webhook", delivered, show=monitored.deliveries)[0]
        assert firing["labels"]["stack"] == STACK and firing["labels"]["severity"] == "ticket"
        assert not [d for d in monitored.deliveries() if d.get("wrong_path")]
    finally:
        database.start()
    wait_until("the database healthy again", lambda: monitored.world.health()["database"] == "healthy", 120)
    wait_until("pg_up 1 after", lambda: monitored.query(f"{pg_up} == 1"))
    for name, container in monitored.containers.items():
        logs = container.logs().decode(errors="replace")
        shown = [key for key, value in {**DEV_SECRETS, **SECRETS}.items() if value in logs]
        assert not shown, f"{name} logged the secret(s) {shown}"
