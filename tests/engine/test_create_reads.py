"""What an `up` from empty reads besides what it writes (issue 13), with the real `pulumi` CLI against
the emulator: the environment's lookup and every service create share one read of the project
(providers/project_reads.py), and the domains of services this run made are not looked for
before they are created (providers/made_here.py). The providers' side is tests/railway/test_create_reads.py."""

from __future__ import annotations

from .world import operations


def test_an_up_from_empty_reads_no_project_and_no_domains(world):
    world.init_stack("staging")
    world.cli.ok("up", "--yes", "--stack", "staging")

    sent = operations(world.requests())
    assert sent["serviceCreate"] >= 4 and sent["serviceDomainCreate"] >= 1, "services and domains were made"
    assert sent["project"] == 0, f"the project this run made is read from its create's answer: {sent}"
    assert sent["environments"] == 0, "the environment is found in the project's read"
    assert sent["domains"] == 0, sent
