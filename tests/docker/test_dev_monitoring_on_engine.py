"""The dev stack's monitoring on a real Docker engine: the dev declaration with monitoring enabled,
applied with exactly the arguments `LocalStack` registers (uploaded files included; why not
`pulumi up`: see tests/docker/declared.py), runs Prometheus, Alertmanager, the Pushgateway and
postgres_exporter on the stack's private network, and they work together:
- every monitoring container turns healthy and reads back as declared;
- Prometheus scrapes exactly the jobs the rules expect (`scrape_jobs`), each at its network alias,
  and the backend, postgres-exporter and pushgateway targets are up (the frontend's is not asserted
  either way: whether it serves /metrics is the app's business);
- Prometheus loaded exactly the generated rules, and Alertmanager the generated configuration
  (uploaded as a secret, readable by its user only);
- a backup run inside the network pushes its result to the Pushgateway, and Prometheus has it;
- a stopped database makes `pg_up` 0 and PostgresDown fire, and Alertmanager delivers it to the
  declared webhook (a recorder on the network); no container logs a secret on the way.

Grafana is declared but not run: it has no Debian package, so no stand-in image can be made here
(no registry is reachable). Its provisioning files are checked under mocks
(tests/components/test_local_monitoring.py) and in tests/monitoring.

Time is driven by the declaration's own short settings, as a developer may set them:
`scrape_interval_seconds` 5 (its minimum) and `for_minutes.postgres_down` 0. Alertmanager keeps
its generated timings (30 s before a new group's first notification). Waits poll with deadlines;
nothing asserts on how long anything took.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
import httpx
import pytest
import yaml
from docker.models.containers import Container

from components.errors import PortInUse
from components.monitoring import BACKUP_JOB, POSTGRES_EXPORTER_JOB, PUSHGATEWAY_JOB, alerts, scrape_jobs
from components.spec import EnvironmentSpec, parse_environment
from mvsctl import dev_engine
from mvsctl.everyday import local as local_commands
from mvsctl.loopback_s3 import free_port
from tests.components.conftest import dev_raw

from .conftest import ROOT
from .declared import CONTAINER, NETWORK, VOLUME, apply_network, apply_volume, declare, read_back, start_container
from .declared import wait_healthy as container_healthy
from .standins import build_all

STACK = "dev"
FILE = f"stacks/Pulumi.{STACK}.yaml"
NOT_RUN = {f"{STACK}-grafana"}  # no image can be had here (see the module docstring)
MONITORING = ["postgres-exporter", "pushgateway", "alertmanager", "prometheus"]
RECORDER = "alert-recorder"
RECORDER_PORT = 8080
DEADLINE = 90.0  # seconds for any one condition to show (scrapes every 5 s, Alertmanager waits 30 s)
HOOK_PATH = f"/hook/{secrets.token_hex(8)}"
SECRETS = {
    "mvs:dbPassword": "db-Never-Shown-9",
    "mvs:sessionSecret": "session-Never-Shown-8",
    "mvs:grafanaAdminPassword": "grafana-Never-Shown-7",
    "mvs:alertWebhookUrl": f"http://{RECORDER}:{RECORDER_PORT}{HOOK_PATH}",
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


def declaration() -> dict:
    """The dev declaration on free host ports, with monitoring enabled and a webhook receiver."""
    raw = dev_raw()
    raw["database"]["host_port"] = free_port()
    for service in raw["services"].values():
        service["host_port"] = free_port()
    raw["monitoring"] = {
        "enabled": True,
        "scrape_interval_seconds": 5,
        "prometheus_host_port": free_port(),
        "grafana_host_port": free_port(),
        "alertmanager_host_port": free_port(),
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
    spec: EnvironmentSpec
    raw: dict
    containers: dict[str, Container]
    recorder: Container
    declared: Any

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


def remove_stack(client: docker.DockerClient) -> None:
    for container in dev_engine.stack_containers(client, STACK):
        container.remove(force=True)
    for container in client.containers.list(all=True, filters={"name": f"mvs-test-{RECORDER}"}):
        container.remove(force=True)
    for network in client.networks.list(names=[f"mvs-{STACK}"]):
        network.remove()
    for volume in client.volumes.list(filters={"label": f"com.mvs.stack={STACK}"}):
        volume.remove(force=True)


def start_recorder(client: docker.DockerClient, image: str, network: str) -> Container:
    """The webhook Alertmanager delivers to, on the stack's network under the alias the secret names."""
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
def monitored(engine, ci_bases, tmp_path_factory):
    raw = declaration()
    spec = parse_environment(raw, f"stacks/Pulumi.{STACK}.yaml")
    declared = declare(raw, SECRETS, ROOT)
    remove_stack(engine)
    build_all(engine, ci_bases, declared, tmp_path_factory.mktemp("standins"))
    for network in declared.of_type(NETWORK):
        apply_network(engine, network)
    for volume in declared.of_type(VOLUME):
        apply_volume(engine, volume)
    recorder = start_recorder(engine, ci_bases["python"], f"mvs-{STACK}")
    containers = {
        reg.name: start_container(engine, declared, reg)
        for reg in declared.of_type(CONTAINER)
        if reg.name not in NOT_RUN
    }
    yield Monitored(spec, raw, containers, recorder, declared)
    remove_stack(engine)


def test_every_monitoring_container_runs_healthy_and_reads_back_as_declared(engine, monitored):
    declared = monitored.declared
    assert {reg.name for reg in declared.of_type(CONTAINER)} - set(monitored.containers) == NOT_RUN
    for part in MONITORING:
        reg = declared.named(f"{STACK}-{part}")
        container = monitored.containers[reg.name]
        assert container_healthy(container, 60) == "healthy", part
        found = read_back(container)
        assert found["image"] == engine.images.get(declared.image_ref(reg)).id, part
        assert found["healthcheck"] == reg.inputs["healthcheck"], part
        assert (found["restart"], found["ports"]) == (reg.inputs["restart"], reg.inputs.get("ports", [])), part
        assert container.attrs["NetworkSettings"]["Networks"][f"mvs-{STACK}"]["Aliases"][:1] == [part]
    # Only Prometheus and Alertmanager publish a port (Grafana too, when it runs).
    published = {p for p in MONITORING if read_back(monitored.containers[f"{STACK}-{p}"])["ports"]}
    assert published == {"prometheus", "alertmanager"}


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
    alertmanager = monitored.containers[f"{STACK}-alertmanager"]
    code, output = alertmanager.exec_run(["stat", "-c", "%a %u", "/etc/alertmanager/alertmanager.yml"])
    assert (code, output.decode().split()) == (0, ["600", "65534"])
    known = wait_until(
        "Prometheus knows its Alertmanager",
        lambda: monitored.api(monitored.prometheus, "/api/v1/alertmanagers")["activeAlertmanagers"],
    )
    assert [a["url"] for a in known] == ["http://alertmanager:9093/api/v2/alerts"]


def test_a_backup_run_inside_the_network_is_pushed_and_scraped(monitored):
    runner = monitored.containers[f"{STACK}-backup"]
    code, output = runner.exec_run(["python", "-m", "backup_runner", "run"])
    text = output.decode(errors="replace")
    assert code == 0 and "warning" not in text, text
    success = f'mvs_backup_last_success_timestamp_seconds{{job="{BACKUP_JOB}"}}'
    (sample,) = wait_until(f"{success} in Prometheus", lambda: monitored.query(success))
    assert sample["metric"]["stack"] == STACK, "the runner's BACKUP_STACK label, kept by honor_labels"
    assert abs(float(sample["value"][1]) - time.time()) < 600


def mvs(*args: str, docker_host: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKER_HOST": docker_host}
    return subprocess.run(
        [sys.executable, "-m", "mvsctl", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_ps_shows_the_monitoring_containers_with_their_urls(docker_host, monitored, monkeypatch, capsys):
    # The real command, which reads stacks/Pulumi.dev.yaml: whatever it declares, it lists what runs.
    done = mvs("ps", STACK, docker_host=docker_host)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    for part in MONITORING:
        assert "running" in rows[part] and "healthy" in rows[part], rows.get(part)
    assert f"http://localhost:{monitored.spec.monitoring.alertmanager_host_port}" in rows["alertmanager"]
    assert f"http://localhost:{monitored.spec.monitoring.prometheus_host_port}" in rows["prometheus"]
    assert rows["pushgateway"].split()[-1] == "-" and rows["postgres-exporter"].split()[-1] == "-"
    # With this module's declaration (monitoring on), a part that does not run is named missing.
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    assert local_commands.ps(STACK, monitored.spec) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert sorted(rows) == sorted([*monitored.spec.services, "database", "backup", *MONITORING, "grafana"])
    assert "missing" in rows["grafana"] and f"./mvs up {STACK}" in rows["grafana"]  # declared, not run here


def test_up_checks_the_monitoring_ports_too(docker_host, monitored, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    said: list[str] = []
    dev_engine.prepare_up(STACK, monitored.spec, FILE, say=said.append)  # the stack's own ports: fine
    assert said == [], "every container runs"
    raw = copy.deepcopy(monitored.raw)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        raw["monitoring"]["alertmanager_host_port"] = taken = holder.getsockname()[1]
        with pytest.raises(PortInUse) as refused:
            dev_engine.prepare_up(STACK, parse_environment(raw, FILE), FILE, say=said.append)
    assert f"port {taken}" in str(refused.value)
    assert "mvs:environment.monitoring.alertmanager_host_port" in str(refused.value)


def test_a_stopped_database_is_postgres_down_delivered_to_the_webhook(engine, monitored):
    """Last in the module: it stops the database (and starts it again)."""
    database = monitored.containers[f"{STACK}-database"]
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
    assert container_healthy(database, 120) == "healthy"
    wait_until("pg_up 1 after", lambda: monitored.query(f"{pg_up} == 1"))
    for name, container in monitored.containers.items():
        logs = container.logs().decode(errors="replace")
        shown = [key for key, value in SECRETS.items() if value in logs]
        assert not shown, f"{name} logged the secret(s) {shown}"
