"""A build's RUN steps reach the network on an engine whose bridge does no NAT (one run with
--iptables=false, as the project's own engine is): with no network declared, the Image provider
runs them on the host's network. Nothing cached: each run's step is new."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import pytest

from components.errors import DockerRefused
from components.local.debian import apt_mirror
from components.local.providers.image import MASQUERADE, ImageProvider


def context_needing_the_network(tmp_path, base: str) -> dict:
    host = urlparse(apt_mirror()).hostname
    (tmp_path / "Dockerfile").write_text(f"FROM {base}\nARG NONCE\nRUN echo $NONCE && getent hosts {host}\n")
    return {"context": str(tmp_path), "dockerfile": "Dockerfile", "args": {"NONCE": uuid.uuid4().hex}}


def test_with_no_network_declared_a_build_on_an_engine_without_nat_reaches_the_network(
    engine, docker_host, ci_bases, tmp_path, monkeypatch
):
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    assert engine.networks.get("bridge").attrs["Options"][MASQUERADE] == "false", "an engine without NAT"
    tag = f"mvs-test/network-probe:{uuid.uuid4().hex[:12]}"
    made = ImageProvider().create({"name": tag, "build": context_needing_the_network(tmp_path, ci_bases["debian"])})
    try:
        assert made.outs["image_id"] == engine.images.get(tag).id
    finally:
        engine.images.remove(tag)


def test_a_declared_network_is_kept_and_without_one_the_step_cannot_resolve(
    engine, docker_host, ci_bases, tmp_path, monkeypatch
):
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    options = {**context_needing_the_network(tmp_path, ci_bases["debian"]), "network": "none"}
    with pytest.raises(DockerRefused) as failed:
        ImageProvider().create({"name": f"mvs-test/network-probe:{uuid.uuid4().hex[:12]}", "build": options})
    assert "getent hosts" in str(failed.value) and "returned a non-zero code" in str(failed.value)
