"""Monitoring on Railway, end to end: staging brought up with monitoring on and a webhook receiver by
the real `pulumi` CLI against the emulator, judged by what the emulator holds (services, variables,
the volume, Grafana's domain), by where the secrets are not (state, outputs, CLI output), by a clean
preview, and by turning monitoring off again with nothing left behind. Then the start commands the
component generates run for real: `/bin/sh` writes the files from the variables, and Debian's
Prometheus and Alertmanager start on them."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from components.monitoring import alertmanager_config, render_config
from components.railway import monitoring
from components.railway.monitoring import file_variable, file_variables, start_command
from components.spec import parse_environment
from tests.monitoring.conftest import alertmanager_command
from tests.monitoring_tools import monitoring_tool

from .cli import ROOT, tools_available
from .world import RailwayWorld

MONITORING_SECRETS = {
    "mvs:alertWebhook": "https://hooks.example.com/webhook-Never-In-State-5",
    "mvs:grafanaAdminPassword": "grafana-Never-In-State-6",
    "mvs:railwayMetricsToken": "token-Never-In-State-7",
}
DECLARED = {"enabled": True, "receivers": {"webhook_url_secret": "alertWebhook"}, "prometheus_volume_size_gb": 7}
SIX = list(monitoring.SERVICES)


def stack_file(world: RailwayWorld) -> Path:
    return world.cli.workdir / "stacks" / "Pulumi.staging.yaml"


def declare_monitoring(world: RailwayWorld, block: dict) -> None:
    """Write the monitoring block into staging's stack file, as an operator edits it."""
    path = stack_file(world)
    document = yaml.safe_load(path.read_text())
    document["config"]["mvs:environment"]["monitoring"] = block
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def world(tmp_path_factory, s3_endpoint):
    """staging up with monitoring on, its secrets set, and the stack pointing at the emulator by
    `railway:endpoint` (so the edge exporter is told the endpoint)."""
    assert tools_available(), "the Pulumi tools are missing: run ./mvs setup (the test command does)"
    world = RailwayWorld(tmp_path_factory.mktemp("monitoring"), s3_endpoint)
    try:
        world.init_stack("staging")
        for key, value in MONITORING_SECRETS.items():
            world.cli.ok("config", "set", "--secret", "--stack", "staging", key, input_text=value)
        world.cli.ok("config", "set", "--stack", "staging", "railway:endpoint", world.server.url)
        declare_monitoring(world, DECLARED)
        world.up_output = world.cli.run("up", "--yes", "--stack", "staging")
        assert world.up_output.returncode == 0, world.up_output.stdout + world.up_output.stderr
        yield world
    finally:
        world.server.stop()


def services(world: RailwayWorld) -> dict[str, str]:
    """name -> id of the services in the emulator."""
    return {s["name"]: s["id"] for s in world.state()["services"].values()}


def variables(world: RailwayWorld, name: str) -> dict[str, str]:
    key = f"{world.environment_id('staging')}:{services(world)[name]}"
    return world.state()["variables"][key]


def test_the_monitoring_services_run_in_staging_with_their_variables(world):
    ids = services(world)
    assert set(SIX) <= set(ids)
    environment = world.environment_id("staging")
    instances = world.state()["instances"]
    settings = {name: instances[f"{environment}:{ids[name]}"] for name in SIX}
    assert settings["prometheus"]["source"]["image"] == "prom/prometheus:v2.55.1"
    assert settings["prometheus"]["startCommand"].startswith('/bin/sh -c "set -ef; IFS=; mkdir -p /etc/prometheus;')
    assert settings["grafana"]["startCommand"].endswith('; exec /run.sh"')
    assert {name: settings[name]["healthcheckPath"] for name in SIX} == {
        "prometheus": "/-/ready",
        "alertmanager": "/-/ready",
        "pushgateway": "/-/ready",
        "postgres-exporter": "/",
        "grafana": "/api/health",
        "edge-metrics": "/metrics",
    }

    prometheus = variables(world, "prometheus")
    config = yaml.safe_load(prometheus[file_variable("/etc/prometheus/prometheus.yml")])
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
    assert targets["backend"] == ["backend.railway.internal:3000"]
    assert targets["postgres-exporter"] == ["postgres-exporter.railway.internal:9187"]
    assert targets["edge-metrics"] == ["edge-metrics.railway.internal:9121"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager.railway.internal:9093"
    ]
    assert yaml.safe_load(prometheus[file_variable("/etc/prometheus/staging.rules.yml")])["groups"]

    alertmanager = yaml.safe_load(variables(world, "alertmanager")[file_variable("/etc/alertmanager/alertmanager.yml")])
    assert alertmanager["receivers"][0]["webhook_configs"][0]["url"] == MONITORING_SECRETS["mvs:alertWebhook"]
    assert variables(world, "grafana")["GF_SECURITY_ADMIN_PASSWORD"] == MONITORING_SECRETS["mvs:grafanaAdminPassword"]
    assert variables(world, "postgres-exporter")["DATA_SOURCE_NAME"] == "${{Postgres.DATABASE_URL}}?sslmode=require"

    edge = variables(world, "edge-metrics")
    assert edge["RAILWAY_API_TOKEN"] == MONITORING_SECRETS["mvs:railwayMetricsToken"]
    assert edge["RAILWAY_ENVIRONMENT_ID"] == environment
    assert json.loads(edge["EDGE_SERVICES"]) == {"backend": ids["backend"], "frontend": ids["frontend"]}
    assert (edge["EDGE_REQUESTS_PER_HOUR"], edge["PORT"]) == ("30", "9121")
    assert edge["RAILWAY_API_ENDPOINT"] == world.server.url

    for job in ("backup", "backup-verify"):
        assert variables(world, job)["PUSHGATEWAY_URL"] == "http://pushgateway.railway.internal:9091"
        assert variables(world, job)["BACKUP_STACK"] == "staging"


def test_every_monitoring_service_was_deployed_once_and_succeeded(world):
    environment, ids = world.environment_id("staging"), services(world)
    for name in SIX:
        mine = [
            d
            for d in world.state()["deployments"].values()
            if (d["serviceId"], d["environmentId"]) == (ids[name], environment)
        ]
        assert [d["status"] for d in mine] == ["SUCCESS"], name


def test_prometheus_keeps_its_data_on_a_volume_and_grafana_has_a_domain_in_the_outputs(world):
    ids = services(world)
    (volume,) = [v for v in world.state()["volume_instances"].values() if v["serviceId"] == ids["prometheus"]]
    assert (volume["mountPath"], volume["sizeMB"]) == ("/prometheus", 7000)
    domains = [d for d in world.state()["service_domains"].values() if d["serviceId"] == ids["grafana"]]
    assert [d["targetPort"] for d in domains] == [3000]
    outputs = json.loads(world.cli.ok("stack", "output", "--json", "--stack", "staging"))
    assert outputs["urls"]["grafana"] == f"https://{domains[0]['domain']}"
    assert set(SIX) <= set(outputs["service_ids"])


def test_the_secret_values_are_nowhere_in_state_outputs_or_cli_output(world):
    state_dir = Path(world.cli.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    state_text = "".join(p.read_text(errors="replace") for p in state_dir.rglob("*") if p.is_file())
    exported = world.cli.ok("stack", "export", "--stack", "staging")
    outputs = world.cli.ok("stack", "output", "--json", "--stack", "staging")
    printed = world.up_output.stdout + world.up_output.stderr
    assert "staging-prometheus-volume" in state_text and "staging-grafana-variables" in printed
    for value in MONITORING_SECRETS.values():
        assert value not in state_text
        assert value not in exported
        assert value not in outputs
        assert value not in printed


def test_a_preview_after_up_is_clean(world):
    world.cli.ok("preview", "--expect-no-changes", "--stack", "staging")


def test_ps_lists_the_monitoring_services_after_the_backup_jobs(world):
    result = world.mvs("ps", "staging")
    assert result.returncode == 0, result.stderr
    listed = [row.split()[0] for row in result.stdout.strip().splitlines()[1:]]
    assert listed == ["database", "backend", "frontend", "backup", "backup-verify", *SIX]
    grafana = next(row for row in result.stdout.splitlines() if row.startswith("grafana"))
    assert "https://" in grafana


def test_the_policy_pack_passes_staging_with_monitoring(world):
    """`./mvs preview` runs the CrossGuard pack, mandatory on staging, on what the stack registers."""
    done = world.mvs("preview", "staging")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mandatory on staging" in done.stderr
    assert "policies: 0 finding(s) recorded" in done.stderr, done.stderr


def test_logs_and_restart_reach_a_monitoring_service_by_its_name(world):
    ids, environment = services(world), world.environment_id("staging")
    latest = max(
        (
            d
            for d in world.state()["deployments"].values()
            if (d["serviceId"], d["environmentId"]) == (ids["grafana"], environment)
        ),
        key=lambda d: d["createdAt"],
    )
    world.admin("logs", {"deploymentId": latest["id"], "lines": ["HTTP Server Listen address=[::]:3000"]})
    logs = world.mvs("logs", "staging", "grafana", "--tail", "1")
    assert logs.returncode == 0, logs.stderr
    [line] = logs.stdout.splitlines()
    assert line.endswith(" INFO  HTTP Server Listen address=[::]:3000"), "with its time and severity"
    restarted = world.mvs("restart", "staging", "prometheus")
    assert restarted.returncode == 0, restarted.stderr
    assert "prometheus" in restarted.stdout + restarted.stderr


def test_turning_monitoring_off_removes_it_all_and_says_the_volume_goes(world):
    """Runs last in this module: it changes the world."""
    declare_monitoring(world, {"enabled": False})
    changes = world.changes("staging")
    assert ("delete", "staging-prometheus-volume") in changes
    assert {op for op, name in changes if any(name.startswith(f"staging-{s}") for s in SIX)} == {"delete"}
    world.cli.ok("up", "--yes", "--stack", "staging")
    left = set(services(world))
    assert not set(SIX) & left
    ids = set(services(world).values())
    state = world.state()
    assert all(v["serviceId"] in ids for v in state["volume_instances"].values())
    assert len(state["volume_instances"]) == 1, "only Postgres keeps a volume"
    assert all(d["serviceId"] in ids for d in state["service_domains"].values())
    environment = world.environment_id("staging")
    assert all(key.split(":")[1] in ids | {""} for key in state["variables"] if key.startswith(environment))
    assert all(key.split(":")[1] in ids for key in state["instances"] if key.startswith(environment))
    assert "PUSHGATEWAY_URL" not in variables(world, "backup")
    world.cli.ok("preview", "--expect-no-changes", "--stack", "staging")
    world.cli.ok("destroy", "--yes", "--stack", "staging")
    assert world.left_in_railway() == {}


# ---- the start commands, run for real -----------------------------------------------------------


def tool(name: str) -> str:
    return monitoring_tool(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def relocated(command: str, moves: dict[str, str]) -> list[str]:
    """The command as Railway would split it (one shell, one script), with absolute paths and the
    listen address moved into the test's own directory and port; nothing else changes."""
    argv = shlex.split(command)
    assert argv[:2] == ["/bin/sh", "-c"] and len(argv) == 3, argv
    script = argv[2]
    for old, new in moves.items():
        assert old in script, old
        script = script.replace(old, new)
    return ["/bin/sh", "-c", script]


def run_until_ready(argv: list[str], env: dict[str, str], url: str) -> subprocess.Popen:
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{argv[-1]} exited {process.returncode}: {process.stdout.read()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"not ready within 60 s: {process.stdout.read()}")


def staging_spec():
    raw = yaml.safe_load((ROOT / "stacks/Pulumi.staging.yaml").read_text())["config"]["mvs:environment"]
    raw["monitoring"] = DECLARED
    return parse_environment(raw, "stacks/Pulumi.staging.yaml")


def test_the_shell_writes_every_byte_of_awkward_files_as_the_variables_hold_them(tmp_path):
    files = {
        f"{tmp_path}/etc/a.yml": "quotes ' \" and $HOME ${PATH} `id` \\n \\\\ * ? [a] ; && | > <\n  indented\n",
        f"{tmp_path}/var/b-c/d.json": "-n starts with a dash %s %d %% \t tab\n\n\ntrailing newlines\n\n",
        f"{tmp_path}/e.txt": "no newline at the end, unicode: grüße ✓",
        f"{tmp_path}/glob.txt": "*",  # a whole value that is a pattern matching the files beside it
    }
    command = start_command(list(files), ["/bin/true"])
    env = {"PATH": "/usr/bin:/bin", **{file_variables(files)[p]: content for p, content in files.items()}}
    argv = shlex.split(command)
    assert argv[:2] == ["/bin/sh", "-c"] and len(argv) == 3
    subprocess.run(argv, env=env, check=True, timeout=30, cwd=tmp_path)
    assert {p: Path(p).read_text() for p in files} == files


def test_prometheus_starts_from_its_generated_start_command_and_loads_the_files(tmp_path):
    spec = staging_spec()
    files = monitoring.prometheus_files("staging", spec)
    port = free_port()
    command = start_command(list(files), monitoring.prometheus_argv(spec))
    argv = relocated(
        command,
        {
            "/etc/prometheus": f"{tmp_path}/etc/prometheus",
            "--storage.tsdb.path=/prometheus": f"--storage.tsdb.path={tmp_path}/data",
            "exec /bin/prometheus": f"exec {tool('prometheus')}",
            "--web.listen-address=:9090": f"--web.listen-address=127.0.0.1:{port}",
        },
    )
    env = {"PATH": "/usr/bin:/bin", **{file_variable(path): content for path, content in files.items()}}
    process = run_until_ready(argv, env, f"http://127.0.0.1:{port}/-/ready")
    try:
        for path, content in files.items():
            assert Path(f"{tmp_path}{path}").read_text() == content
        loaded = httpx.get(f"http://127.0.0.1:{port}/api/v1/rules", timeout=5).json()["data"]["groups"]
        generated = yaml.safe_load(files["/etc/prometheus/staging.rules.yml"])["groups"]
        assert {g["name"]: len(g["rules"]) for g in loaded} == {g["name"]: len(g["rules"]) for g in generated}
        flags = httpx.get(f"http://127.0.0.1:{port}/api/v1/status/flags", timeout=5).json()["data"]
        assert flags["storage.tsdb.retention.time"] == "15d"
    finally:
        process.terminate()
        process.wait(timeout=30)
    checked = subprocess.run(
        [tool("promtool"), "check", "config", f"{tmp_path}/etc/prometheus/prometheus.yml"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_alertmanager_starts_from_its_generated_start_command_with_the_secret_file(tmp_path):
    spec = staging_spec()
    path = monitoring.ALERTMANAGER_CONFIG
    content = render_config(alertmanager_config("staging", spec, {"alertWebhook": "https://hooks.example.com/x"}))
    port = free_port()
    *namespace, binary = alertmanager_command()  # Debian's build needs its templates at a fixed path
    argv = relocated(
        start_command([path], monitoring.alertmanager_argv()),
        {
            "/etc/alertmanager": f"{tmp_path}/etc/alertmanager",
            "--storage.path=/alertmanager": f"--storage.path={tmp_path}/data",
            "exec /bin/alertmanager": f"exec {binary}",
            "--web.listen-address=:9093": f"--web.listen-address=127.0.0.1:{port}",
        },
    )
    env = {"PATH": "/usr/bin:/bin", file_variable(path): content}
    process = run_until_ready([*namespace, *argv], env, f"http://127.0.0.1:{port}/-/ready")
    try:
        assert Path(f"{tmp_path}{path}").read_text() == content
        status = httpx.get(f"http://127.0.0.1:{port}/api/v2/status", timeout=5).json()
        assert status["cluster"]["status"] == "disabled"
    finally:
        process.terminate()
        process.wait(timeout=30)
    checked = subprocess.run(
        [tool("amtool"), "check-config", f"{tmp_path}{path}"], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grafanas_start_command_writes_its_provisioning_before_it_runs(tmp_path):
    files = monitoring.grafana_files()
    moves = {"/etc/grafana": f"{tmp_path}/etc/grafana", "exec /run.sh": "exec /bin/true"}
    if any(p.startswith("/var/lib/grafana") for p in files):
        moves["/var/lib/grafana"] = f"{tmp_path}/var/lib/grafana"
    argv = relocated(start_command(list(files), ["/run.sh"]), moves)
    env = {"PATH": "/usr/bin:/bin", **{file_variable(path): content for path, content in files.items()}}
    subprocess.run(argv, env=env, check=True, timeout=30)
    for path, content in files.items():
        assert Path(f"{tmp_path}{path}").read_text() == content
