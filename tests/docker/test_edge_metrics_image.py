"""The edge-metrics exporter's image (edge_metrics/Dockerfile), built on a real Docker engine from its
own directory alone and run as a container against the Railway emulator: what Railway would pull
and start as the service `edge-metrics`. Its base is the Debian python3 stand-in the other images
here use (no registry is reachable); the container shares the host's network, so the emulator and
the exporter's port are on loopback."""

from __future__ import annotations

import time

import docker
import httpx
import pytest

from mvsctl.loopback_s3 import free_port
from tests.monitoring.conftest import wait_until
from tests.monitoring.edge_fixtures import EXPORTER_TOKEN, EdgeWorld, metric_values, value
from tests.monitoring.edge_fixtures import edge_world as edge_world  # the fixture

from .conftest import ROOT, build

TAG = "mvs-test/edge-metrics:image-test"
FAST = {"EDGE_REQUESTS_PER_HOUR": "3600"}  # a poll a second, for the test's sake


@pytest.fixture(scope="module")
def exporter_image(engine: docker.DockerClient, ci_bases: dict[str, str]) -> str:
    return build(engine, ROOT / "edge_metrics", TAG, BASE_IMAGE=ci_bases["python"])


def test_the_image_serves_railway_edge_metrics_as_nobody(engine, exporter_image, edge_world: EdgeWorld):
    edge_world.traffic("frontend", 200, 1, at=time.time() - 1)
    edge_world.traffic("frontend", 502, 9, at=time.time() - 1)
    port = free_port()
    container = engine.containers.run(
        exporter_image,
        detach=True,
        network_mode="host",
        environment=edge_world.env(PORT=str(port), **FAST),
        labels={"com.mvs.test": "edge-metrics-image"},
    )
    try:

        def scraped() -> dict | None:
            container.reload()
            assert container.status == "running", container.logs().decode(errors="replace")
            try:
                values = metric_values(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
            except httpx.TransportError:
                return None  # not listening yet
            return values if value(values, "railway_edge_window_requests", service="frontend", status="502") else None

        values = wait_until("the exporter's /metrics with the traffic", scraped, 60, lambda: container.logs().decode())

        assert value(values, "railway_edge_window_requests", service="frontend", status="502") == 9
        assert value(values, "railway_edge_window_requests", service="frontend", status="200") == 1
        assert value(values, "railway_edge_last_success_timestamp_seconds") > 0
        assert container.attrs["Config"]["User"] == "nobody"
        assert EXPORTER_TOKEN not in container.logs().decode(errors="replace")
        assert edge_world.requests(), "it read Railway's API, the emulator's log says"
    finally:
        container.remove(force=True)
