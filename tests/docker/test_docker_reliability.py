"""Issue 5's fault and parallel tests on real Docker containers (Docker's eth0 and
default route via docker0 inside, a lab netns as the host side of the new NIC).

Skipped cleanly when the docker CLI, the engine or the netwrap-busybox image is
missing; ``make test`` runs the suite under scripts/with-docker.sh, which provides
them. Containers have random names and are removed with ``docker rm -f`` by name.
"""

from __future__ import annotations

import pytest

from conftest import run_netwrap
from nwtest import default_routes, parallel_adds_and_dels, paused_at
from reliability_helpers import make_bridge, no_dad, records_for, snapshot

pytestmark = [pytest.mark.docker, pytest.mark.root]

ADD = ("--bridge", "br0", "--ip", "198.51.100.101/24", "--gateway", "198.51.100.1")


@pytest.fixture
def one(lab, containers):
    make_bridge(lab)
    name, _, pid = containers()
    no_dad("nsenter", "-t", str(pid), "-n")  # eth1's link-local address final at once
    yield lab, name, pid
    run_netwrap("--host-netns", lab, "nic", "del", name)


def commands(lab: str, name: str, *extra: str) -> list[str]:
    return run_netwrap(
        "--dry-run", "--host-netns", lab, *extra, "nic", "add", name, *ADD, check=True
    ).stdout.splitlines()


def test_every_step_failing_leaves_the_container_as_before(one):
    lab, name, pid = one
    before = snapshot(lab, name, pid)
    assert "default via 172.17.0.1 dev eth0" in " ".join(before["sandbox"]["routes"])
    planned = commands(lab, name)
    assert any(c.endswith("ip route delete default") for c in planned)
    for n, command in enumerate(planned, start=1):
        proc = run_netwrap(
            "--host-netns", lab, "nic", "add", name, *ADD, env={"NETWRAP_FAIL_AT": str(n)}
        )
        assert (proc.returncode, proc.stderr) == (
            1,
            f'netwrap: error: failed to run "{command}": exit 1: '
            f"NETWRAP_FAIL_AT={n}: injected failure\n",
        )
        assert snapshot(lab, name, pid, like=before) == before, (
            f"step {n} ({command}) left something"
        )
    run_netwrap("--host-netns", lab, "nic", "add", name, *ADD, check=True)
    assert records_for(name) == [{"ifname": "eth1", "address": "198.51.100.101/24", "state": "ok"}]
    run_netwrap("--host-netns", lab, "nic", "del", name, check=True)
    assert snapshot(lab, name, pid, like=before) == before  # Docker's default route is back


def test_sigkill_after_the_default_route_was_deleted(one):
    lab, name, pid = one
    before = snapshot(lab, name, pid)
    planned = commands(lab, name)
    n = next(i for i, c in enumerate(planned, 1) if c.endswith("ip route delete default")) + 1
    proc = paused_at(n, "--host-netns", lab, "nic", "add", name, *ADD)
    proc.kill()
    proc.communicate()
    assert default_routes(pid) == []  # the container really lost its default route
    assert records_for(name)[0]["state"] == "interrupted"
    run_netwrap("gc", check=True)
    run_netwrap("--host-netns", lab, "nic", "del", name, check=True)
    assert snapshot(lab, name, pid, like=before) == before


def test_twenty_parallel_nic_adds_into_docker_containers(lab, containers):
    make_bridge(lab)
    parallel_adds_and_dels(lab, [(c.name, c.pid) for c in containers.many(20)])
