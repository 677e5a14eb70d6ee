"""Issue 5's fault and parallel tests on real Docker containers (Docker's eth0 and
default route via docker0 inside, a lab netns as the host side of the new NIC).

Skipped cleanly when the docker CLI, the engine or the netwrap-busybox image is
missing; ``make test`` runs the suite under scripts/with-docker.sh, which provides
them. Containers have random names and are removed with ``docker rm -f`` by name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import IMAGE, LAUNCHER, LIB, docker, rand, run_netwrap
from reliability_helpers import make_bridge, records_for, snapshot

pytestmark = [pytest.mark.docker, pytest.mark.root]

ADD = ("--bridge", "br0", "--ip", "198.51.100.101/24", "--gateway", "198.51.100.1")


@pytest.fixture
def containers(docker_ready):
    """Factory: ``containers(n)`` starts n containers at once; [(name, pid)]."""
    made: list[str] = []

    def start_one(_=None) -> tuple[str, int]:
        name = rand("nwc-")
        made.append(name)
        docker("run", "-d", "--name", name, IMAGE, "sleep", "1000")
        return name, int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout)

    def start(n: int = 1) -> list[tuple[str, int]]:
        with ThreadPoolExecutor(min(n, 10)) as pool:
            return list(pool.map(start_one, range(n)))

    try:
        yield start
    finally:
        for name in made:
            docker("rm", "-f", name, check=False)


@pytest.fixture
def one(lab, containers):
    make_bridge(lab)
    [(name, pid)] = containers(1)
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
        assert snapshot(lab, name, pid) == before, f"step {n} ({command}) left something"
    run_netwrap("--host-netns", lab, "nic", "add", name, *ADD, check=True)
    assert records_for(name) == [{"ifname": "eth1", "address": "198.51.100.101/24", "state": "ok"}]
    run_netwrap("--host-netns", lab, "nic", "del", name, check=True)
    assert snapshot(lab, name, pid) == before  # Docker's default route is back


def test_sigkill_after_the_default_route_was_deleted(one):
    lab, name, pid = one
    before = snapshot(lab, name, pid)
    planned = commands(lab, name)
    n = next(i for i, c in enumerate(planned, 1) if c.endswith("ip route delete default")) + 1
    proc = subprocess.Popen(
        [sys.executable, LAUNCHER, "--host-netns", lab, "nic", "add", name, *ADD],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd="/",
        env={**os.environ, "PYTHONPATH": LIB, "NETWRAP_PAUSE_AT": str(n)},
    )
    assert proc.stderr.readline().startswith(f"netwrap: test hook: paused before step {n}")
    proc.kill()
    proc.wait()
    routes = subprocess.run(
        ["nsenter", "-t", str(pid), "-n", "ip", "route", "show", "default"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert routes == ""  # the container really lost its default route
    assert records_for(name)[0]["state"] == "interrupted"
    run_netwrap("gc", check=True)
    run_netwrap("--host-netns", lab, "nic", "del", name, check=True)
    assert snapshot(lab, name, pid) == before


def test_twenty_parallel_nic_adds_into_docker_containers(lab, containers):
    make_bridge(lab)
    boxes = containers(20)

    def run_all(argvs):
        procs = [
            subprocess.Popen(
                [sys.executable, LAUNCHER, *a],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd="/",
                env={**os.environ, "PYTHONPATH": LIB},
            )
            for a in argvs
        ]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            results.append((proc.returncode, out, err))
        return results

    try:
        results = run_all(
            [
                [
                    "--json",
                    "--host-netns",
                    lab,
                    "nic",
                    "add",
                    name,
                    "--bridge",
                    "br0",
                    "--ip",
                    f"198.51.100.{10 + i}/24",
                ]
                for i, (name, _) in enumerate(boxes)
            ]
        )
        assert [(rc, err) for rc, _, err in results] == [(0, "")] * 20
        ports = json.loads(
            subprocess.run(
                ["ip", "-n", lab, "-j", "link", "show", "master", "br0"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        names = {p["ifname"] for p in ports} - {"kbr0a"}
        assert len(names) == 20
        assert names == {json.loads(out)["host_ifname"] for _, out, _ in results}
        for i, (_, pid) in enumerate(boxes):
            addrs = json.loads(
                subprocess.run(
                    ["nsenter", "-t", str(pid), "-n", "ip", "-j", "-4", "addr", "show", "eth1"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            assert [a["local"] for a in addrs[0]["addr_info"]] == [f"198.51.100.{10 + i}"]
    finally:
        removed = run_all([["--host-netns", lab, "nic", "del", name] for name, _ in boxes])
    assert [(rc, err) for rc, _, err in removed] == [(0, "")] * 20
